//! Size bounds for the agent's memories of bundles (the duplicate table, the custody
//! releases kept for loop detection): besides forgetting entries when their time is up, a
//! table over its cap forgets the quarter of its entries that would go first. A flood of
//! distinct bundles then costs bounded memory; what is lost is the memory of the oldest,
//! which only weakens duplicate suppression for bundles that old.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::time::DtnTime;

/// Brings `map` back under `cap` entries when it is over, forgetting those with the earliest
/// time (and, among equals, any). Linear in the table, once every `cap / 4` insertions:
/// amortised constant time each.
pub(crate) fn evict_oldest<K: Ord, V>(map: &mut BTreeMap<K, V>, cap: usize, time: impl Fn(&V) -> DtnTime) {
    if map.len() <= cap {
        return;
    }
    let keep = cap - cap / 4;
    let drop = map.len() - keep;
    let mut times: Vec<DtnTime> = map.values().map(&time).collect();
    let (_, threshold, _) = times.select_nth_unstable(drop - 1);
    let threshold = *threshold;
    // Everything strictly older goes; of those at the threshold, as many as needed.
    let mut at_threshold = drop - map.values().filter(|v| time(v) < threshold).count();
    map.retain(|_, v| {
        let t = time(v);
        if t < threshold {
            return false;
        }
        if t == threshold && at_threshold > 0 {
            at_threshold -= 1;
            return false;
        }
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_over_its_cap_forgets_its_oldest_quarter() {
        let mut map: BTreeMap<u32, DtnTime> = (0..1_000u32).map(|k| (k, DtnTime(u64::from(k % 500)))).collect();
        evict_oldest(&mut map, 800, |t| *t);
        assert_eq!(map.len(), 600);
        // The oldest went: nothing left is older than what was dropped.
        let oldest_left = map.values().min().copied().unwrap();
        assert!(oldest_left >= DtnTime(199), "{oldest_left:?}");
        let before = map.len();
        evict_oldest(&mut map, 800, |t| *t);
        assert_eq!(map.len(), before, "under the cap: untouched");
    }
}
