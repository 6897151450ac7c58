//! A set of byte ranges within a block: what an import session has received and what an
//! export session has had claimed. Adjacent and overlapping ranges merge, so the set holds
//! one entry per gap-separated run and every operation is logarithmic in that count.

use alloc::collections::BTreeMap;

/// Disjoint, non-adjacent half-open ranges `[start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end.
    runs: BTreeMap<u64, u64>,
    /// Bytes covered.
    covered: u64,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// Bytes covered.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// Number of separate runs.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// True if nothing is covered.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The end of the highest run (0 when empty).
    pub fn max_end(&self) -> u64 {
        self.runs.last_key_value().map_or(0, |(_, &end)| end)
    }

    /// Adds `[start, end)`; returns the bytes that were not covered before.
    pub fn insert(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let (mut lo, mut hi) = (start, end);
        // A run starting at or before `start` that reaches it merges.
        if let Some((&s, &e)) = self.runs.range(..=start).next_back()
            && e >= start
        {
            lo = s;
            hi = hi.max(e);
        }
        let before = self.covered;
        // Every run starting inside [lo, hi] is absorbed.
        while let Some((&s, &e)) = self.runs.range(lo..=hi).next() {
            self.runs.remove(&s);
            self.covered -= e - s;
            hi = hi.max(e);
        }
        self.runs.insert(lo, hi);
        self.covered += hi - lo;
        self.covered - before
    }

    /// True if all of `[start, end)` is covered.
    pub fn contains(&self, start: u64, end: u64) -> bool {
        if start >= end {
            return true;
        }
        matches!(self.runs.range(..=start).next_back(), Some((_, &e)) if e >= end)
    }

    /// The gaps within `[start, end)`, in order.
    pub fn gaps(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let end = end.max(start);
        let first = match self.runs.range(..=start).next_back() {
            Some((_, &e)) if e > start => e,
            _ => start,
        };
        let mut cursor = first.min(end);
        let mut runs = self.runs.range(cursor..end);
        core::iter::from_fn(move || {
            while cursor < end {
                match runs.next() {
                    Some((&s, &e)) => {
                        let gap = (cursor, s);
                        cursor = e.min(end);
                        if gap.0 < gap.1 {
                            return Some(gap);
                        }
                    }
                    None => {
                        let gap = (cursor, end);
                        cursor = end;
                        return Some(gap);
                    }
                }
            }
            None
        })
    }

    /// The runs overlapping `[start, end)`, clipped to it, in order.
    pub fn within(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let end = end.max(start);
        let head = self.runs.range(..start).next_back().filter(|(_, e)| **e > start);
        head.into_iter()
            .chain(self.runs.range(start..end))
            .map(move |(&s, &e)| (s.max(start), e.min(end)))
            .filter(|(s, e)| s < e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn adjacent_and_overlapping_ranges_merge() {
        let mut set = RangeSet::new();
        assert_eq!(set.insert(0, 10), 10);
        assert_eq!(set.insert(10, 20), 10);
        assert_eq!(set.insert(5, 25), 5);
        assert_eq!(set.runs(), 1);
        assert_eq!(set.insert(30, 40), 10);
        assert_eq!(set.gaps(0, 50).collect::<Vec<_>>(), [(25, 30), (40, 50)]);
        assert_eq!(set.within(20, 35).collect::<Vec<_>>(), [(20, 25), (30, 35)]);
        assert!(set.contains(2, 25) && !set.contains(2, 26));
    }

    fn model(ops: &[(u16, u16)]) -> Vec<bool> {
        let mut bits = vec![false; 1100];
        for &(a, len) in ops {
            for b in bits.iter_mut().skip(a as usize).take(len as usize) {
                *b = true;
            }
        }
        bits
    }

    proptest! {
        #[test]
        fn agrees_with_a_bitmap(ops in proptest::collection::vec((0u16..1000, 0u16..100), 0..40), lo in 0u64..1100, span in 0u64..1100) {
            let mut set = RangeSet::new();
            for &(a, len) in &ops {
                set.insert(u64::from(a), u64::from(a) + u64::from(len));
            }
            let bits = model(&ops);
            prop_assert_eq!(set.covered(), bits.iter().filter(|b| **b).count() as u64);
            let hi = (lo + span).min(1100);
            let mut gaps = Vec::new();
            let mut runs = Vec::new();
            let mut i = lo;
            while i < hi {
                let v = bits[i as usize];
                let s = i;
                while i < hi && bits[i as usize] == v { i += 1; }
                if v { runs.push((s, i)) } else { gaps.push((s, i)) }
            }
            prop_assert_eq!(set.gaps(lo, hi).collect::<Vec<_>>(), gaps.clone());
            prop_assert_eq!(set.within(lo, hi).collect::<Vec<_>>(), runs);
            prop_assert_eq!(set.contains(lo, hi), gaps.is_empty());
        }
    }
}
