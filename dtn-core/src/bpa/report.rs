//! Status reports (RFC 9171 6.1.1): made as ordinary bundles from this node's administrative
//! endpoint to the subject's report-to endpoint, and forwarded like any other.

use super::{Bpa, BpaError};
use crate::admin::{AdminRecord, ReasonCode, StatusAssertion, StatusReport};
use crate::bundle::{Bundle, BundleBuilder, BundleFlags};
use crate::routing::{Priority, Router};
use crate::store::BundleStore;
use crate::time::CreationTimestamp;

/// Lifetime of the status reports this node sends.
const REPORT_LIFETIME_MS: u64 = 24 * 3_600_000;

impl<S: BundleStore, R: Router> Bpa<S, R> {
    /// Sends a status report about `subject` if it asked for this kind and policy allows it.
    pub(crate) fn report(
        &mut self,
        subject: &Bundle,
        assertion: StatusAssertion,
        reason: ReasonCode,
    ) -> Result<(), BpaError> {
        let flags = subject.flags();
        if !self.wants_report(flags, assertion) || subject.is_admin_record() {
            return Ok(());
        }
        let report_to = subject.primary().report_to.clone();
        if report_to.is_null() {
            return Ok(());
        }
        let record = AdminRecord::StatusReport(StatusReport::about(subject, reason).assert(assertion, self.now, flags));
        let bundle = self.make_bundle(
            self.config.admin_endpoint(),
            report_to,
            record.encode().into(),
            BundleFlags::ADMIN_RECORD,
            REPORT_LIFETIME_MS,
            crate::bpsec::Protection::NONE,
        );
        if let Ok(bundle) = bundle {
            self.accept(bundle, None, Priority::Normal, None)?;
        }
        Ok(())
    }

    /// Builds a bundle created here now, with the BPSec its application asked for.
    pub(crate) fn make_bundle(
        &mut self,
        source: crate::eid::Eid,
        destination: crate::eid::Eid,
        payload: bytes::Bytes,
        flags: BundleFlags,
        lifetime_ms: u64,
        asked: crate::bpsec::Protection,
    ) -> Result<Bundle, BpaError> {
        self.sequence += 1;
        if self.sequence >= self.seq_reserved {
            // Reserve sequence numbers in blocks, durably: after a restart (or without a clock)
            // a new bundle must never repeat an old one's (source, time, sequence).
            self.seq_reserved = self.sequence + 4096;
            self.persist_node_state()?;
        }
        let mut builder = BundleBuilder::new(source, destination)
            .creation(CreationTimestamp::new(self.now, self.sequence))
            .lifetime_ms(lifetime_ms)
            .flags(flags)
            .payload(payload);
        if let Some(limit) = self.config.hop_limit {
            builder = builder.hop_count(limit, 0);
        }
        if self.now.is_unknown() {
            builder = builder.bundle_age_ms(0);
        }
        let bundle = builder.build()?;
        self.secure_outbound(bundle, asked)
    }
}
