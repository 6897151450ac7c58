//! Why a security operation failed, as RFC 9172 9.1 names it for status reports (reason
//! codes 12–16), with the block and the target it concerns.

use core::fmt;

use crate::admin::ReasonCode;

/// The class of a security failure: each is one status-report reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    /// 12: the policy requires an operation the bundle does not carry.
    Missing,
    /// 13: an operation this node cannot process (an unknown context, no key for it).
    Unknown,
    /// 14: an operation the policy does not expect (e.g. from the wrong security source).
    Unexpected,
    /// 15: an operation that does not verify or decrypt, or a block that does not decode.
    Failed,
    /// 16: operations that break RFC 9172's rules together (a BIB over a BCB, a BCB on the
    /// primary block, two of one service on a target, a target that is not there).
    Conflicting,
}

impl Failure {
    /// Every class, in reason-code order.
    pub const ALL: [Failure; 5] =
        [Failure::Missing, Failure::Unknown, Failure::Unexpected, Failure::Failed, Failure::Conflicting];

    /// The status-report reason code.
    pub fn reason(self) -> ReasonCode {
        match self {
            Failure::Missing => ReasonCode::MissingSecurityOperation,
            Failure::Unknown => ReasonCode::UnknownSecurityOperation,
            Failure::Unexpected => ReasonCode::UnexpectedSecurityOperation,
            Failure::Failed => ReasonCode::FailedSecurityOperation,
            Failure::Conflicting => ReasonCode::ConflictingSecurityOperation,
        }
    }

    /// A short name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Missing => "missing",
            Failure::Unknown => "unknown",
            Failure::Unexpected => "unexpected",
            Failure::Failed => "failed",
            Failure::Conflicting => "conflicting",
        }
    }
}

/// A security operation that failed: what, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityError {
    /// The class (and so the reason code).
    pub failure: Failure,
    /// The security block concerned, if one is.
    pub block: Option<u64>,
    /// The target concerned, if one is.
    pub target: Option<u64>,
    /// What is wrong.
    pub message: &'static str,
}

impl SecurityError {
    /// A failure of this class.
    pub fn new(failure: Failure, message: &'static str) -> Self {
        SecurityError { failure, block: None, target: None, message }
    }

    /// The same, naming the security block.
    pub fn in_block(mut self, block: u64) -> Self {
        self.block = Some(block);
        self
    }

    /// The same, naming the target.
    pub fn on_target(mut self, target: u64) -> Self {
        self.target = Some(target);
        self
    }

    /// The status-report reason code.
    pub fn reason(&self) -> ReasonCode {
        self.failure.reason()
    }
}

impl fmt::Display for SecurityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} security operation (reason {})", self.failure.name(), self.reason().code())?;
        if let Some(b) = self.block {
            write!(f, ", security block {b}")?;
        }
        if let Some(t) = self.target {
            write!(f, ", target block {t}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl core::error::Error for SecurityError {}
