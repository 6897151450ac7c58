//! Strict and relaxed parsing, and the record of what a relaxed parse accepted.
//!
//! Strict mode accepts exactly what RFC 9171 allows. Relaxed mode also accepts the deviations
//! that deployed implementations emit (RFC 9173's own examples omit the primary-block CRC; some
//! encoders use a definite-length outer array or non-shortest integers) and says which it saw,
//! so a node can log it or refuse to forward such a bundle unchanged.

use core::fmt;

/// How strictly to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ParseMode {
    /// RFC 9171 and RFC 8949 deterministic encoding, nothing else.
    #[default]
    Strict,
    /// Also accept the deviations listed in [`Relaxation`], recording each.
    Relaxed,
}

impl ParseMode {
    /// True for [`ParseMode::Strict`].
    pub fn is_strict(self) -> bool {
        self == ParseMode::Strict
    }
}

/// One rule a relaxed parse let pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Relaxation {
    /// A CBOR head was not in shortest form (RFC 8949 4.2.1, required by RFC 9171 4.1).
    NonCanonicalCbor = 0,
    /// The bundle was a definite-length array (RFC 9171 4.1 requires indefinite).
    DefiniteBundleArray = 1,
    /// The primary block had no CRC and no BIB targets it (RFC 9171 4.3.1).
    MissingPrimaryCrc = 2,
    /// `dtn:none` was encoded as the text "none" instead of the integer 0 (RFC 9171 4.2.5.1.1).
    DtnNoneAsText = 3,
    /// Block-type-specific data was wrapped in CBOR tag 24 (allowed by the CDDL, not the text).
    Tag24BlockData = 4,
    /// Creation time 0 without a Bundle Age block (RFC 9171 4.2.7; RFC 9173's examples do this).
    MissingBundleAge = 5,
}

impl Relaxation {
    const ALL: [Relaxation; 6] = [
        Relaxation::NonCanonicalCbor,
        Relaxation::DefiniteBundleArray,
        Relaxation::MissingPrimaryCrc,
        Relaxation::DtnNoneAsText,
        Relaxation::Tag24BlockData,
        Relaxation::MissingBundleAge,
    ];

    /// What was relaxed, in words.
    pub fn description(self) -> &'static str {
        match self {
            Relaxation::NonCanonicalCbor => "non-shortest CBOR integer or length (RFC 9171 4.1)",
            Relaxation::DefiniteBundleArray => "definite-length bundle array (RFC 9171 4.1)",
            Relaxation::MissingPrimaryCrc => "primary block without CRC and without a BIB (RFC 9171 4.3.1)",
            Relaxation::DtnNoneAsText => "dtn:none encoded as text \"none\" (RFC 9171 4.2.5.1.1)",
            Relaxation::Tag24BlockData => "block data wrapped in CBOR tag 24 (RFC 9171 4.3.2)",
            Relaxation::MissingBundleAge => "creation time 0 without a bundle age block (RFC 9171 4.2.7)",
        }
    }
}

impl fmt::Display for Relaxation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The set of rules a relaxed parse let pass; empty after a strict parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Relaxations(u8);

impl Relaxations {
    /// Records one relaxation.
    pub fn insert(&mut self, r: Relaxation) {
        self.0 |= 1 << (r as u8);
    }

    /// True when `r` was recorded.
    pub fn contains(self, r: Relaxation) -> bool {
        self.0 & (1 << (r as u8)) != 0
    }

    /// True when nothing was relaxed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The recorded relaxations.
    pub fn iter(self) -> impl Iterator<Item = Relaxation> {
        Relaxation::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_lists_relaxations() {
        let mut set = Relaxations::default();
        assert!(set.is_empty());
        set.insert(Relaxation::MissingPrimaryCrc);
        set.insert(Relaxation::Tag24BlockData);
        assert!(set.contains(Relaxation::MissingPrimaryCrc));
        assert!(!set.contains(Relaxation::NonCanonicalCbor));
        let listed: alloc::vec::Vec<_> = set.iter().collect();
        assert_eq!(listed, [Relaxation::MissingPrimaryCrc, Relaxation::Tag24BlockData]);
    }
}
