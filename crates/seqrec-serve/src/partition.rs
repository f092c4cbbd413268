//! Users partitioned across replicas: users are independent, so a
//! deployment scales by giving each replica the users of one partition.
//!
//! The owner of a user among `N` replicas is the jump consistent hash
//! (Lamping and Veach, 2014) of the user's key into `N` buckets, where the
//! key is **xxh3-64 (seed 0) of the user id's UTF-8 bytes**. Both are part
//! of the service's contract: a router must compute the same owner, so
//! neither may ever change between versions (tests pin their values).
//! Going from `N` to `N + 1` replicas moves only about `1/(N + 1)` of the
//! users, all to the new replica.

use std::fmt;
use std::str::FromStr;

/// The stable 64-bit key of a user id.
pub fn user_key(user: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(user.as_bytes())
}

/// Jump consistent hash: the bucket in `0..buckets` of `key` (`buckets`
/// must be at least 1).
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// One partition of `count`: the users whose owner is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl Partition {
    /// The partition among `self.count` that owns `user`.
    pub fn owner_of(&self, user: &str) -> u32 {
        jump_hash(user_key(user), self.count)
    }

    pub fn owns(&self, user: &str) -> bool {
        self.owner_of(user) == self.index
    }
}

impl FromStr for Partition {
    type Err = String;

    /// `i/N`: partition `i` (from 0) of `N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}`: a partition is written i/N, e.g. 0/3"))?;
        let parse = |s: &str, what: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{text}`: {what} `{s}` is not a whole number"))
        };
        let (index, count) = (parse(i, "the index")?, parse(n, "the count")?);
        if count == 0 || index >= count {
            return Err(format!(
                "`{text}`: the index must be below the count (0/{count} to {}/{count})",
                count.saturating_sub(1)
            ));
        }
        Ok(Partition { index, count })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_and_the_owners_never_change() {
        // Pinned: a change here breaks every deployed router.
        assert_eq!(user_key(""), 0x2d06_8005_38d3_94c2);
        assert_eq!(jump_hash(0, 1), 0);
        let owners: Vec<u32> = ["42", "alice", "bob", "user-7", "ü"]
            .iter()
            .map(|u| jump_hash(user_key(u), 3))
            .collect();
        assert_eq!(owners, PINNED_OWNERS);
    }

    const PINNED_OWNERS: [u32; 5] = [0, 1, 0, 1, 1];

    #[test]
    fn adding_a_replica_moves_users_only_to_it() {
        let users: Vec<String> = (0..10_000).map(|i| format!("u{i}")).collect();
        let mut moved = 0;
        for user in &users {
            let (before, after) = (jump_hash(user_key(user), 4), jump_hash(user_key(user), 5));
            if before != after {
                assert_eq!(after, 4, "{user} moved between old replicas");
                moved += 1;
            }
        }
        // About a fifth move.
        assert!((1_600..2_400).contains(&moved), "{moved} moved");
        let mut counts = [0usize; 5];
        for user in &users {
            counts[jump_hash(user_key(user), 5) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (1_700..2_300).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn partitions_parse_or_say_why_not() {
        assert_eq!("1/3".parse(), Ok(Partition { index: 1, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
