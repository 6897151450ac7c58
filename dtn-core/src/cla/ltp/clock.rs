//! Link time and the memory of closed sessions.
//!
//! LTP timers count only while the link is up (RFC 5326 6.7: a timer is suspended when the
//! remote engine cannot answer, and resumed with the link). Each span keeps a clock that
//! advances only while its link is up; deadlines are set on that clock, so a contact gap
//! simply does not count.

use alloc::collections::{BTreeMap, VecDeque};

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

/// The most recent `capacity` closed session numbers, each with the (link) time it closed:
/// late segments of a session closed lately are ignored, while a number closed long ago may
/// start a new session (a peer that restarted counts its sessions from 1 again, as ION does).
#[derive(Debug, Clone)]
pub struct ClosedSet {
    capacity: usize,
    order: VecDeque<u64>,
    members: BTreeMap<u64, u64>,
}

impl ClosedSet {
    /// Remembers up to `capacity` numbers.
    pub fn new(capacity: usize) -> Self {
        ClosedSet { capacity: capacity.max(1), order: VecDeque::new(), members: BTreeMap::new() }
    }

    /// Remembers that `number` closed at `now`, forgetting the oldest beyond capacity.
    pub fn insert(&mut self, number: u64, now: u64) {
        if self.members.insert(number, now).is_some() {
            return;
        }
        self.order.push_back(number);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.members.remove(&old);
            }
        }
    }

    /// Whether `number` closed less than `ttl` before `now`.
    pub fn recent(&self, number: u64, now: u64, ttl: u64) -> bool {
        self.members.get(&number).is_some_and(|&at| now.saturating_sub(at) < ttl)
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
    fn closed_set_forgets_the_oldest_and_the_old() {
        let mut set = ClosedSet::new(2);
        set.insert(1, 0);
        set.insert(2, 0);
        set.insert(3, 100);
        assert!(!set.recent(1, 100, 1000) && set.recent(2, 100, 1000) && set.recent(3, 100, 1000));
        assert!(!set.recent(2, 5000, 1000), "closed long ago: a new session may use the number");
    }
}
