//! Block numbers looked up by binary search. A bundle from a peer may carry many thousands of
//! blocks and one security block may target all of them: every per-target lookup in BPSec
//! goes through a table sorted once, so the work stays linear up to that sort.

use alloc::vec::Vec;

use crate::bundle::CanonicalBlock;

/// Block numbers, each with a position (in a block list, a list of security blocks, a
/// buffer's ranges…), sorted by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Numbers<T = usize>(Vec<(u64, T)>);

impl<T: Clone> Numbers<T> {
    /// Sorts the pairs by number (a number given twice keeps one of its values).
    pub fn new(pairs: impl IntoIterator<Item = (u64, T)>) -> Self {
        let mut v: Vec<(u64, T)> = pairs.into_iter().collect();
        v.sort_by_key(|e| e.0);
        Numbers(v)
    }

    /// The value of `number`.
    pub fn get(&self, number: u64) -> Option<&T> {
        let i = self.0.binary_search_by_key(&number, |e| e.0).ok()?;
        self.0.get(i).map(|e| &e.1)
    }

    /// Whether `number` is in the table.
    pub fn contains(&self, number: u64) -> bool {
        self.get(number).is_some()
    }
}

impl Numbers<usize> {
    /// Each block's number with its position in `blocks`.
    pub fn of_blocks(blocks: &[CanonicalBlock]) -> Self {
        Self::new(blocks.iter().enumerate().map(|(i, b)| (b.number, i)))
    }

    /// The block numbered `number` in `blocks` (the list this table was made of).
    pub fn block<'b>(&self, blocks: &'b [CanonicalBlock], number: u64) -> Option<&'b CanonicalBlock> {
        self.get(number).and_then(|&i| blocks.get(i))
    }
}

/// A set of block numbers.
pub fn set(numbers: impl IntoIterator<Item = u64>) -> Numbers<()> {
    Numbers::new(numbers.into_iter().map(|n| (n, ())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lookups_agree_with_a_scan(numbers in proptest::collection::vec(0u64..50, 0..40), probe in 0u64..60) {
            let table = Numbers::new(numbers.iter().enumerate().map(|(i, &n)| (n, i)));
            let scan = numbers.iter().position(|&n| n == probe);
            prop_assert_eq!(table.contains(probe), scan.is_some());
            if let Some(&i) = table.get(probe) {
                prop_assert_eq!(numbers.get(i), Some(&probe));
            }
        }
    }
}
