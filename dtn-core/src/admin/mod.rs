//! Administrative records (RFC 9171 6.1): the payload of a bundle whose "payload is an
//! administrative record" flag is set, `[record type, record content]`.

mod bibe;
mod reason;
mod status_report;

use alloc::vec::Vec;

pub use bibe::{Bpdu, CustodyCodes, CustodySignal, Disposition};
pub use reason::ReasonCode;
pub use status_report::{StatusAssertion, StatusItem, StatusReport};

use bytes::Bytes;

use crate::bundle::Bundle;
use crate::cbor::{CborError, Reader, writer};

/// Record type of a bundle status report.
pub const RECORD_TYPE_STATUS_REPORT: u64 = 1;

/// A decoded administrative record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRecord {
    /// Type 1: bundle status report.
    StatusReport(StatusReport),
    /// A BIBE protocol data unit (type 3, or 7 for ION).
    Bpdu(Bpdu),
    /// A custody signal (type 4, or 8 for ION).
    CustodySignal(CustodySignal),
    /// Any other type (BIBE PDUs and custody signals are decoded by the custody layer): the
    /// content as one encoded CBOR item.
    Other {
        /// Record type code.
        record_type: u64,
        /// The record content, encoded.
        content: Vec<u8>,
    },
}

/// Why an administrative record did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The bundle's "administrative record" flag is clear.
    #[error("the bundle is not an administrative record (flag 0x02 clear)")]
    NotAdminRecord,
    /// The record is not `[type, content]`.
    #[error("administrative record at byte {offset} is not a [type, content] array (RFC 9171 6.1)")]
    InvalidRecord {
        /// Offset in the payload.
        offset: usize,
    },
    /// A status report that breaks RFC 9171 6.1.1.
    #[error("invalid status report at byte {offset}: {what} (RFC 9171 6.1.1)")]
    InvalidStatusReport {
        /// Offset in the payload.
        offset: usize,
        /// The field or rule at fault.
        what: &'static str,
    },
    /// A malformed BIBE PDU.
    #[error("invalid BIBE PDU at byte {offset}: {what} (draft-ietf-dtn-bibect)")]
    InvalidBibe {
        /// Offset in the payload.
        offset: usize,
        /// The field or rule at fault.
        what: &'static str,
    },
    /// A malformed custody signal.
    #[error("invalid custody signal at byte {offset}: {what} (draft-ietf-dtn-bibect)")]
    InvalidCustodySignal {
        /// Offset in the payload.
        offset: usize,
        /// The field or rule at fault.
        what: &'static str,
    },
}

impl AdminError {
    /// The error class name, e.g. `"InvalidStatusReport"`.
    pub fn name(&self) -> &'static str {
        match self {
            AdminError::NotAdminRecord => "NotAdminRecord",
            AdminError::InvalidRecord { .. } => "InvalidRecord",
            AdminError::InvalidStatusReport { .. } => "InvalidStatusReport",
            AdminError::InvalidBibe { .. } => "InvalidBibe",
            AdminError::InvalidCustodySignal { .. } => "InvalidCustodySignal",
        }
    }
}

pub(crate) fn report_err(what: &'static str) -> impl Fn(CborError) -> AdminError {
    move |e| AdminError::InvalidStatusReport { offset: e.offset, what }
}

impl AdminRecord {
    /// Decodes an administrative record from a payload. BIBE records are recognised under both
    /// the draft's codes (3, 4) and ION's (7, 8).
    pub fn decode(payload: &[u8]) -> Result<AdminRecord, AdminError> {
        Self::decode_bytes(&Bytes::copy_from_slice(payload))
    }

    /// [`AdminRecord::decode`] without copying: an encapsulated bundle is a slice of `payload`.
    pub fn decode_bytes(payload: &Bytes) -> Result<AdminRecord, AdminError> {
        let mut r = Reader::new(payload);
        let invalid = |e: CborError| AdminError::InvalidRecord { offset: e.offset };
        if r.array().map_err(invalid)? != Some(2) {
            return Err(AdminError::InvalidRecord { offset: 0 });
        }
        let record_type = r.uint().map_err(invalid)?;
        let record = match record_type {
            RECORD_TYPE_STATUS_REPORT => AdminRecord::StatusReport(StatusReport::decode(&mut r)?),
            t if t == CustodyCodes::DRAFT.bpdu || t == CustodyCodes::ION.bpdu => {
                AdminRecord::Bpdu(Bpdu::decode(&mut r, payload)?)
            }
            t if t == CustodyCodes::DRAFT.signal || t == CustodyCodes::ION.signal => {
                AdminRecord::CustodySignal(CustodySignal::decode(&mut r)?)
            }
            _ => {
                let start = r.position();
                r.skip().map_err(invalid)?;
                AdminRecord::Other { record_type, content: Vec::from(payload.get(start..r.position()).unwrap_or(&[])) }
            }
        };
        if !r.is_empty() {
            return Err(AdminError::InvalidRecord { offset: r.position() });
        }
        Ok(record)
    }

    /// Decodes the administrative record a bundle carries.
    pub fn from_bundle(bundle: &Bundle) -> Result<AdminRecord, AdminError> {
        if !bundle.is_admin_record() {
            return Err(AdminError::NotAdminRecord);
        }
        Self::decode_bytes(bundle.payload())
    }

    /// Encodes the record (the payload of an admin-record bundle), BIBE records under the
    /// draft's codes.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(CustodyCodes::DRAFT)
    }

    /// Encodes the record with the given BIBE record type codes.
    pub fn encode_with(&self, codes: CustodyCodes) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        writer::array(&mut out, 2);
        match self {
            AdminRecord::StatusReport(report) => {
                writer::uint(&mut out, RECORD_TYPE_STATUS_REPORT);
                report.encode(&mut out);
            }
            AdminRecord::Bpdu(bpdu) => {
                out.reserve(bpdu.bundle.len() + 24);
                writer::uint(&mut out, codes.bpdu);
                bpdu.encode(&mut out);
            }
            AdminRecord::CustodySignal(signal) => {
                writer::uint(&mut out, codes.signal);
                signal.encode(&mut out);
            }
            AdminRecord::Other { record_type, content } => {
                writer::uint(&mut out, *record_type);
                out.extend_from_slice(content);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
