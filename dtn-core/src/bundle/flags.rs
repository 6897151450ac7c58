//! Bundle processing control flags (RFC 9171 4.2.3), block processing control flags (4.2.4)
//! and block type codes (9.1). Unassigned and reserved bits are kept and ignored, as the RFC
//! requires.

use core::fmt;

/// Bundle processing control flags. Unknown bits are preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BundleFlags(pub u64);

impl BundleFlags {
    /// The bundle is a fragment.
    pub const IS_FRAGMENT: BundleFlags = BundleFlags(0x01);
    /// The payload is an administrative record.
    pub const ADMIN_RECORD: BundleFlags = BundleFlags(0x02);
    /// The bundle must not be fragmented.
    pub const MUST_NOT_FRAGMENT: BundleFlags = BundleFlags(0x04);
    /// Acknowledgement by the user application is requested.
    pub const APP_ACK_REQUESTED: BundleFlags = BundleFlags(0x20);
    /// Status time is requested in all status reports.
    pub const STATUS_TIME_REQUESTED: BundleFlags = BundleFlags(0x40);
    /// Request reporting of bundle reception.
    pub const REPORT_RECEPTION: BundleFlags = BundleFlags(0x4000);
    /// Request reporting of bundle forwarding.
    pub const REPORT_FORWARDING: BundleFlags = BundleFlags(0x1_0000);
    /// Request reporting of bundle delivery.
    pub const REPORT_DELIVERY: BundleFlags = BundleFlags(0x2_0000);
    /// Request reporting of bundle deletion.
    pub const REPORT_DELETION: BundleFlags = BundleFlags(0x4_0000);
    /// All four status-report request flags.
    pub const ANY_REPORT: BundleFlags = BundleFlags(0x4000 | 0x1_0000 | 0x2_0000 | 0x4_0000);

    const NAMES: [(BundleFlags, &'static str); 9] = [
        (Self::IS_FRAGMENT, "fragment"),
        (Self::ADMIN_RECORD, "admin-record"),
        (Self::MUST_NOT_FRAGMENT, "must-not-fragment"),
        (Self::APP_ACK_REQUESTED, "app-ack"),
        (Self::STATUS_TIME_REQUESTED, "status-time"),
        (Self::REPORT_RECEPTION, "report-reception"),
        (Self::REPORT_FORWARDING, "report-forwarding"),
        (Self::REPORT_DELIVERY, "report-delivery"),
        (Self::REPORT_DELETION, "report-deletion"),
    ];

    /// True when every bit of `other` is set.
    pub fn contains(self, other: BundleFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when any bit of `other` is set.
    pub fn intersects(self, other: BundleFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` with the bits of `other` set or cleared.
    #[must_use]
    pub fn with(self, other: BundleFlags, on: bool) -> BundleFlags {
        if on { BundleFlags(self.0 | other.0) } else { BundleFlags(self.0 & !other.0) }
    }

    /// Names of the assigned flags that are set, e.g. `["fragment", "report-delivery"]`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.into_iter().filter(move |(f, _)| self.contains(*f)).map(|(_, n)| n)
    }

    /// Parses a flag name as printed by [`BundleFlags::names`].
    pub fn from_name(name: &str) -> Option<BundleFlags> {
        Self::NAMES.into_iter().find(|(_, n)| *n == name).map(|(f, _)| f)
    }
}

impl core::ops::BitOr for BundleFlags {
    type Output = BundleFlags;
    fn bitor(self, rhs: BundleFlags) -> BundleFlags {
        BundleFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for BundleFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Block processing control flags. Unknown bits are preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockFlags(pub u64);

impl BlockFlags {
    /// The block must be replicated in every fragment.
    pub const REPLICATE: BlockFlags = BlockFlags(0x01);
    /// Transmit a status report if the block can't be processed.
    pub const REPORT_IF_UNPROCESSABLE: BlockFlags = BlockFlags(0x02);
    /// Delete the bundle if the block can't be processed.
    pub const DELETE_BUNDLE_IF_UNPROCESSABLE: BlockFlags = BlockFlags(0x04);
    /// Discard the block if it can't be processed.
    pub const DISCARD_IF_UNPROCESSABLE: BlockFlags = BlockFlags(0x10);

    const NAMES: [(BlockFlags, &'static str); 4] = [
        (Self::REPLICATE, "replicate"),
        (Self::REPORT_IF_UNPROCESSABLE, "report-if-unprocessable"),
        (Self::DELETE_BUNDLE_IF_UNPROCESSABLE, "delete-bundle-if-unprocessable"),
        (Self::DISCARD_IF_UNPROCESSABLE, "discard-if-unprocessable"),
    ];

    /// True when every bit of `other` is set.
    pub fn contains(self, other: BlockFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Names of the assigned flags that are set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.into_iter().filter(move |(f, _)| self.contains(*f)).map(|(_, n)| n)
    }
}

impl core::ops::BitOr for BlockFlags {
    type Output = BlockFlags;
    fn bitor(self, rhs: BlockFlags) -> BlockFlags {
        BlockFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for BlockFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Block type codes (RFC 9171 9.1, RFC 9172 11.1).
pub mod block_type {
    /// Payload block.
    pub const PAYLOAD: u64 = 1;
    /// Previous Node block.
    pub const PREVIOUS_NODE: u64 = 6;
    /// Bundle Age block.
    pub const BUNDLE_AGE: u64 = 7;
    /// Hop Count block.
    pub const HOP_COUNT: u64 = 10;
    /// Block Integrity Block (BPSec).
    pub const BIB: u64 = 11;
    /// Block Confidentiality Block (BPSec).
    pub const BCB: u64 = 12;

    /// A short name for a block type.
    pub fn name(code: u64) -> &'static str {
        match code {
            PAYLOAD => "payload",
            PREVIOUS_NODE => "previous-node",
            BUNDLE_AGE => "bundle-age",
            HOP_COUNT => "hop-count",
            BIB => "bib",
            BCB => "bcb",
            192..=255 => "private",
            _ => "unknown",
        }
    }

    /// True for the block types this crate interprets.
    pub fn is_known(code: u64) -> bool {
        matches!(code, PAYLOAD | PREVIOUS_NODE | BUNDLE_AGE | HOP_COUNT | BIB | BCB)
    }
}
