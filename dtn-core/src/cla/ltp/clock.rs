//! Link time and the memory of closed sessions.
//!
//! LTP timers count only while the link is up (RFC 5326 6.7: a timer is suspended when the
//! remote engine cannot answer, and resumed with the link). Each span keeps a clock that
//! advances only while its link is up; deadlines are set on that clock, so a contact gap
//! simply does not count.

use alloc::collections::{BTreeSet, VecDeque};

/// A clock that runs only while the link is up. All times are milliseconds.
#[derive(Debug, Clone)]
pub struct LinkClock {
    up: bool,
    /// Link time accumulated before the current up period.
    accumulated: u64,
    /// Host time the current up period began.
    since: u64,
}

impl LinkClock {
    /// A clock for a link that is `up` at host time `now`.
    pub fn new(up: bool, now: u64) -> Self {
        LinkClock { up, accumulated: 0, since: now }
    }

    /// Whether the link is up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Link time at host time `now`.
    pub fn now(&self, now: u64) -> u64 {
        if self.up { self.accumulated.saturating_add(now.saturating_sub(self.since)) } else { self.accumulated }
    }

    /// The link goes up or down at host time `now`.
    pub fn set(&mut self, up: bool, now: u64) {
        if self.up == up {
            return;
        }
        if up {
            self.since = now;
        } else {
            self.accumulated = self.now(now);
        }
        self.up = up;
    }

    /// The host time at which link time reaches `deadline`, if the link stays up; `None`
    /// while it is down.
    pub fn host_time(&self, deadline: u64) -> Option<u64> {
        self.up.then(|| self.since.saturating_add(deadline.saturating_sub(self.accumulated)))
    }
}

/// The most recent `capacity` closed session numbers.
#[derive(Debug, Clone)]
pub struct ClosedSet {
    capacity: usize,
    order: VecDeque<u64>,
    members: BTreeSet<u64>,
}

impl ClosedSet {
    /// Remembers up to `capacity` numbers.
    pub fn new(capacity: usize) -> Self {
        ClosedSet { capacity: capacity.max(1), order: VecDeque::new(), members: BTreeSet::new() }
    }

    /// Remembers `number`, forgetting the oldest beyond capacity.
    pub fn insert(&mut self, number: u64) {
        if !self.members.insert(number) {
            return;
        }
        self.order.push_back(number);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.members.remove(&old);
            }
        }
    }

    /// Whether `number` closed recently.
    pub fn contains(&self, number: u64) -> bool {
        self.members.contains(&number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_time_stops_while_the_link_is_down() {
        let mut clock = LinkClock::new(true, 1000);
        assert_eq!(clock.now(1500), 500);
        clock.set(false, 2000);
        assert_eq!(clock.now(9000), 1000);
        assert_eq!(clock.host_time(1200), None);
        clock.set(true, 10_000);
        assert_eq!(clock.now(10_100), 1100);
        assert_eq!(clock.host_time(1200), Some(10_200));
    }

    #[test]
    fn closed_set_forgets_the_oldest() {
        let mut set = ClosedSet::new(2);
        set.insert(1);
        set.insert(2);
        set.insert(3);
        assert!(!set.contains(1) && set.contains(2) && set.contains(3));
    }
}
