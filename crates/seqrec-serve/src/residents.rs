//! The users whose state is in memory. Memory is a cache: a user's state
//! is their data state plus their stored events, so under a bound the
//! least recently used users leave memory and come back, rebuilt from the
//! event log, when next used.

use seqrec_core::ItemId;
use std::collections::BTreeMap;

/// One user's state.
#[derive(Clone, Debug)]
pub(crate) struct UserState {
    /// The user's index in the model's data (`None`: a user created online).
    pub(crate) index: Option<u32>,
    pub(crate) history: Vec<ItemId>,
    pub(crate) times: Vec<i64>,
    /// GRU: the hidden state after `history` (computed on first use).
    pub(crate) hidden: Option<Vec<f32>>,
    /// The arrival number of the last stored event in this state (`None`:
    /// none, or events applied without a store): a stored event numbered
    /// at most this is in the state already and is never applied twice.
    pub(crate) through: Option<u64>,
    /// When it was last used (a tick of [`Residents`]' clock).
    used: u64,
}

impl UserState {
    pub(crate) fn new(index: Option<u32>, history: Vec<ItemId>, times: Vec<i64>) -> Self {
        UserState {
            index,
            history,
            times,
            hidden: None,
            through: None,
            used: 0,
        }
    }

    /// Whether the stored event numbered `seq` is in this state already.
    pub(crate) fn has_applied(&self, seq: u64) -> bool {
        self.through.is_some_and(|t| seq <= t)
    }

    pub(crate) fn mark_applied(&mut self, seq: Option<u64>) {
        self.through = self.through.max(seq);
    }
}

/// The users in memory by original id (B-trees: no hash order decides
/// anything), and, under a bound, their order of last use.
#[derive(Debug, Default)]
pub(crate) struct Residents {
    map: BTreeMap<String, UserState>,
    /// Last use → user; kept only under a bound.
    by_use: BTreeMap<u64, String>,
    clock: u64,
    capacity: Option<usize>,
    evictions: u64,
}

impl Residents {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Residents {
            capacity,
            ..Residents::default()
        }
    }

    pub(crate) fn get(&self, user: &str) -> Option<&UserState> {
        self.map.get(user)
    }

    /// The state of `user`, marked as used now.
    pub(crate) fn touch(&mut self, user: &str) -> Option<&mut UserState> {
        let state = self.map.get_mut(user)?;
        if self.capacity.is_some() {
            self.clock += 1;
            self.by_use.remove(&state.used);
            state.used = self.clock;
            self.by_use.insert(self.clock, user.to_owned());
        }
        Some(state)
    }

    /// The state of `user` without marking it used (it must be in memory
    /// for the work under way).
    pub(crate) fn get_mut(&mut self, user: &str) -> Option<&mut UserState> {
        self.map.get_mut(user)
    }

    pub(crate) fn insert(&mut self, user: &str, mut state: UserState) {
        if self.capacity.is_some() {
            self.clock += 1;
            state.used = self.clock;
            self.by_use.insert(self.clock, user.to_owned());
        }
        if let Some(old) = self.map.insert(user.to_owned(), state) {
            self.by_use.remove(&old.used);
        }
    }

    pub(crate) fn remove(&mut self, user: &str) -> Option<UserState> {
        let state = self.map.remove(user)?;
        self.by_use.remove(&state.used);
        Some(state)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Users evicted so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Every user in memory, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &UserState)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Evicts the least recently used users until the bound holds.
    pub(crate) fn evict_over_capacity(&mut self) {
        let Some(capacity) = self.capacity else {
            return;
        };
        while self.map.len() > capacity {
            let Some((_, user)) = self.by_use.pop_first() else {
                break;
            };
            self.map.remove(&user);
            self.evictions += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_leave_first() {
        let mut r = Residents::new(Some(2));
        r.insert("a", UserState::new(None, vec![], vec![]));
        r.insert("b", UserState::new(None, vec![], vec![]));
        r.touch("a");
        r.insert("c", UserState::new(None, vec![], vec![]));
        r.evict_over_capacity();
        let left: Vec<&str> = r.iter().map(|(u, _)| u).collect();
        assert_eq!(left, ["a", "c"]);
        assert_eq!(r.evictions(), 1);
        r.remove("a");
        r.insert("d", UserState::new(None, vec![], vec![]));
        r.evict_over_capacity();
        let left: Vec<&str> = r.iter().map(|(u, _)| u).collect();
        assert_eq!(left, ["c", "d"]);
        assert_eq!(r.evictions(), 1);
    }

    #[test]
    fn without_a_bound_nobody_leaves() {
        let mut r = Residents::new(None);
        for u in ["a", "b", "c"] {
            r.insert(u, UserState::new(None, vec![], vec![]));
        }
        r.evict_over_capacity();
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_stored_event_is_applied_once() {
        let mut s = UserState::new(None, vec![], vec![]);
        assert!(!s.has_applied(0));
        s.mark_applied(Some(4));
        s.mark_applied(None);
        assert!(s.has_applied(4) && s.has_applied(3) && !s.has_applied(5));
    }
}
