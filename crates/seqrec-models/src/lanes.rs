//! The parallel lanes of truncated-BPTT training (specification §4.5), as plain data:
//! which item each lane reads and predicts at each step of a window, which
//! lanes start a new user (state reset), and which steps are padding.
//!
//! Kept free of burn so the schedule can be tested exactly.

use seqrec_core::ItemId;
use serde::{Deserialize, Serialize};

/// When a lane whose user ran out takes the next user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneSwitch {
    /// At the next window boundary; the rest of the window is padding, so a
    /// window never mixes two users (spec decision).
    #[default]
    Window,
    /// At the next step, with a state reset (session-parallel GRU4Rec).
    Step,
}

/// One window of `steps × lanes` lane-steps, all vectors step-major
/// (`index = step * lanes + lane`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub lanes: usize,
    pub steps: usize,
    /// Input item (0 on padding).
    pub inputs: Vec<u32>,
    /// Next item, the target (0 on padding).
    pub targets: Vec<u32>,
    /// User of the lane at that step (0 on padding).
    pub users: Vec<u32>,
    /// Whether the lane-step has a target (not padding).
    pub active: Vec<bool>,
    /// Whether the lane's state is reset to zero before this step.
    pub reset: Vec<bool>,
    /// One entry per (lane, user) stretch in the window: the user, for the
    /// L2 term on looked-up user rows.
    pub stretch_users: Vec<u32>,
}

impl Window {
    /// Training tuples (active lane-steps) in the window.
    pub fn tuples(&self) -> usize {
        self.active.iter().filter(|&&a| a).count()
    }

    /// Whether any lane resets before `step`.
    pub fn any_reset(&self, step: usize) -> bool {
        self.reset[step * self.lanes..(step + 1) * self.lanes]
            .iter()
            .any(|&r| r)
    }
}

#[derive(Clone, Copy, Debug)]
struct Lane {
    /// Index into the schedule's sequences.
    sequence: usize,
    /// Position of the next input in that sequence.
    position: usize,
}

/// Deals user sequences onto lanes, window by window, in the given order.
#[derive(Debug)]
pub struct LaneSchedule<'a> {
    /// (user, training items) in epoch order; every sequence has ≥ 2 items.
    sequences: Vec<(u32, &'a [ItemId])>,
    next: usize,
    lanes: Vec<Option<Lane>>,
    /// Lanes that took a new user since the last window (window switching).
    fresh: Vec<bool>,
    steps: usize,
    switch: LaneSwitch,
}

impl<'a> LaneSchedule<'a> {
    /// `sequences` in epoch order; those with fewer than two items have no
    /// training tuple and are skipped. Uses `min(lanes, users)` lanes.
    pub fn new(
        sequences: Vec<(u32, &'a [ItemId])>,
        lanes: usize,
        steps: usize,
        switch: LaneSwitch,
    ) -> Self {
        let sequences: Vec<_> = sequences
            .into_iter()
            .filter(|(_, s)| s.len() >= 2)
            .collect();
        let count = lanes.min(sequences.len()).max(1);
        let mut schedule = LaneSchedule {
            sequences,
            next: 0,
            lanes: vec![None; count],
            fresh: vec![true; count],
            steps,
            switch,
        };
        for lane in 0..count {
            schedule.lanes[lane] = schedule.take_next();
        }
        schedule
    }

    /// Lanes in use.
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Training tuples of all sequences (one per consecutive pair).
    pub fn total_tuples(&self) -> usize {
        self.sequences.iter().map(|(_, s)| s.len() - 1).sum()
    }

    fn take_next(&mut self) -> Option<Lane> {
        let lane = (self.next < self.sequences.len()).then_some(Lane {
            sequence: self.next,
            position: 0,
        });
        self.next += 1;
        lane
    }

    fn exhausted(&self, lane: &Lane) -> bool {
        lane.position + 1 >= self.sequences[lane.sequence].1.len()
    }
}

impl Iterator for LaneSchedule<'_> {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        if self.lanes.iter().all(Option::is_none) {
            return None;
        }
        let (lanes, steps) = (self.lanes.len(), self.steps);
        let mut w = Window {
            lanes,
            steps,
            inputs: vec![0; lanes * steps],
            targets: vec![0; lanes * steps],
            users: vec![0; lanes * steps],
            active: vec![false; lanes * steps],
            reset: vec![false; lanes * steps],
            stretch_users: Vec::new(),
        };
        for lane in 0..lanes {
            let mut stretch_open = false;
            for step in 0..steps {
                let i = step * lanes + lane;
                if step == 0 && self.fresh[lane] {
                    w.reset[i] = true;
                    self.fresh[lane] = false;
                }
                let needs_user = match self.lanes[lane] {
                    Some(l) => self.exhausted(&l),
                    None => false,
                };
                if needs_user && self.switch == LaneSwitch::Step {
                    self.lanes[lane] = self.take_next();
                    w.reset[i] = true;
                    stretch_open = false;
                }
                let Some(l) = self.lanes[lane].as_mut() else {
                    continue;
                };
                let (user, items) = self.sequences[l.sequence];
                if l.position + 1 >= items.len() {
                    continue; // Window switching: padding until the boundary.
                }
                w.inputs[i] = items[l.position].0;
                w.targets[i] = items[l.position + 1].0;
                w.users[i] = user;
                w.active[i] = true;
                l.position += 1;
                if !stretch_open {
                    w.stretch_users.push(user);
                    stretch_open = true;
                }
            }
            // A finished lane takes its next user now, to start with a reset
            // at the next window (and so no window is all padding).
            if let Some(l) = self.lanes[lane]
                && self.exhausted(&l)
            {
                self.lanes[lane] = self.take_next();
                self.fresh[lane] = true;
            }
        }
        Some(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: &[u32]) -> Vec<ItemId> {
        v.iter().map(|&i| ItemId(i)).collect()
    }

    #[test]
    fn window_switching_pads_and_resets_at_the_boundary() {
        // Lane 0: user 7 with 4 items (3 tuples), then user 9 (1 tuple).
        // Lane 1: user 8 with 3 items (2 tuples). Windows of 2 steps.
        let a = items(&[1, 2, 3, 4]);
        let b = items(&[5, 6, 7]);
        let c = items(&[8, 9]);
        let seqs = vec![(7, &a[..]), (8, &b[..]), (9, &c[..])];
        let windows: Vec<Window> = LaneSchedule::new(seqs, 2, 2, LaneSwitch::Window).collect();
        assert_eq!(windows.len(), 2);
        let w = &windows[0];
        // step-major: [s0l0, s0l1, s1l0, s1l1]
        assert_eq!(w.inputs, vec![1, 5, 2, 6]);
        assert_eq!(w.targets, vec![2, 6, 3, 7]);
        assert_eq!(w.reset, vec![true, true, false, false]);
        assert_eq!(w.stretch_users, vec![7, 8]);
        let w = &windows[1];
        // Lane 0 finishes user 7 at step 0 and pads step 1; lane 1 took user 9.
        assert_eq!(w.inputs, vec![3, 8, 0, 0]);
        assert_eq!(w.targets, vec![4, 9, 0, 0]);
        assert_eq!(w.active, vec![true, true, false, false]);
        assert_eq!(w.reset, vec![false, true, false, false]);
        assert_eq!(w.users, vec![7, 9, 0, 0]);
        assert_eq!(w.tuples(), 2);
        assert!(windows.iter().all(|w| w.lanes == 2));
    }

    #[test]
    fn step_switching_takes_the_next_user_mid_window() {
        let a = items(&[1, 2]);
        let b = items(&[3, 4, 5]);
        let seqs = vec![(0, &a[..]), (1, &b[..])];
        let windows: Vec<Window> = LaneSchedule::new(seqs, 1, 4, LaneSwitch::Step).collect();
        assert_eq!(windows.len(), 1);
        let w = &windows[0];
        assert_eq!(w.inputs, vec![1, 3, 4, 0]);
        assert_eq!(w.targets, vec![2, 4, 5, 0]);
        assert_eq!(w.users, vec![0, 1, 1, 0]);
        assert_eq!(w.reset, vec![true, true, false, true]);
        assert_eq!(w.stretch_users, vec![0, 1]);
    }

    #[test]
    fn no_window_is_all_padding() {
        let seqs: Vec<Vec<ItemId>> = (0..7u32)
            .map(|u| items(&vec![u; (u as usize % 4) + 2]))
            .collect();
        for switch in [LaneSwitch::Window, LaneSwitch::Step] {
            let input: Vec<(u32, &[ItemId])> = seqs
                .iter()
                .enumerate()
                .map(|(u, s)| (u as u32, &s[..]))
                .collect();
            assert!(LaneSchedule::new(input, 3, 3, switch).all(|w| w.tuples() > 0));
        }
    }

    #[test]
    fn every_tuple_is_trained_exactly_once_in_both_modes() {
        let seqs: Vec<Vec<ItemId>> = (0..13u32)
            .map(|u| {
                items(
                    &(0..(u * 7 % 11 + 1))
                        .map(|k| u * 100 + k)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let expected: usize = seqs.iter().map(|s| s.len().saturating_sub(1)).sum();
        for switch in [LaneSwitch::Window, LaneSwitch::Step] {
            let input: Vec<(u32, &[ItemId])> = seqs
                .iter()
                .enumerate()
                .map(|(u, s)| (u as u32, &s[..]))
                .collect();
            let schedule = LaneSchedule::new(input, 4, 5, switch);
            assert_eq!(schedule.total_tuples(), expected);
            let mut seen = Vec::new();
            for w in schedule {
                for i in 0..w.inputs.len() {
                    if w.active[i] {
                        seen.push((w.inputs[i], w.targets[i]));
                        assert_eq!(w.inputs[i] / 100, w.users[i]);
                        assert_eq!(w.targets[i], w.inputs[i] + 1);
                    }
                }
            }
            assert_eq!(seen.len(), expected, "{switch:?}");
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), expected, "{switch:?}");
        }
    }
}
