//! BPSec in the agent: the node's policy applied to the bundles it creates (security
//! source) and to those it receives — from links, inside BIBE PDUs, and reassembled — before
//! anything acts on them, so an unsigned or forged custody signal releases nothing.

use super::{Action, Bpa, BpaError};
use crate::bpsec::{Failure, Inbound, Protection, SecurityError};
use crate::bundle::Bundle;
use crate::routing::Router;
use crate::store::BundleStore;

impl<S: BundleStore, R: Router> Bpa<S, R> {
    /// Security failures since start, by class: missing, unknown, unexpected, failed,
    /// conflicting (reason codes 12 to 16).
    pub fn security_failures(&self) -> [(Failure, u64); 5] {
        let mut out = [(Failure::Missing, 0); 5];
        for (slot, (failure, count)) in out.iter_mut().zip(Failure::ALL.iter().zip(self.security_failures)) {
            *slot = (*failure, count);
        }
        out
    }

    /// Runs BPSec on these primitives from now on (a host with a faster library than the
    /// built-in RustCrypto gives it here: the gateway gives `ring`).
    pub fn set_crypto(&mut self, crypto: alloc::boxed::Box<dyn crate::bpsec::Crypto + Send + Sync>) {
        self.crypto = crypto;
    }

    /// The source rules' operations on a bundle created here, with what its application
    /// asked for.
    pub(crate) fn secure_outbound(&mut self, bundle: Bundle, asked: Protection) -> Result<Bundle, BpaError> {
        let Some(policy) = &self.config.security else {
            if asked == Protection::NONE {
                return Ok(bundle);
            }
            let error =
                SecurityError::new(Failure::Missing, "the application asked for BPSec: this node has no policy");
            return Err(BpaError::Security { rule: "application request".into(), error });
        };
        let node = self.config.admin_endpoint();
        policy
            .outbound(self.crypto.as_ref(), &mut self.drbg, &node, bundle, asked)
            .map_err(|(rule, error)| BpaError::Security { rule, error })
    }

    /// The security-source rules on a bundle this node forwards; `None` when it was dropped.
    pub(crate) fn secure_transit(&mut self, bundle: Bundle) -> Result<Option<Bundle>, BpaError> {
        let Some(policy) = self.config.security.as_ref().filter(|p| p.has_source()) else { return Ok(Some(bundle)) };
        let node = self.config.admin_endpoint();
        let counts = &mut self.security_failures;
        let verdict =
            policy.transit(self.crypto.as_ref(), &mut self.drbg, &node, bundle.clone(), &mut |e| count(counts, e));
        self.verdict(bundle, verdict)
    }

    /// The verifier and acceptor rules on a bundle that arrived; `None` when it was dropped
    /// (deleted as the rule says, with a report if it says so).
    pub(crate) fn secure_inbound(&mut self, bundle: Bundle) -> Result<Option<Bundle>, BpaError> {
        let Some(policy) = self.config.security.as_ref().filter(|p| p.has_inbound()) else { return Ok(Some(bundle)) };
        let counts = &mut self.security_failures;
        let verdict = policy.inbound(self.crypto.as_ref(), bundle.clone(), &mut |e| count(counts, e));
        self.verdict(bundle, verdict)
    }

    fn verdict(&mut self, bundle: Bundle, verdict: Inbound) -> Result<Option<Bundle>, BpaError> {
        match verdict {
            Inbound::Pass(bundle) => Ok(Some(*bundle)),
            Inbound::Drop { error, report: true, .. } => {
                self.discard(&bundle, error.reason())?;
                Ok(None)
            }
            Inbound::Drop { error, report: false, .. } => {
                self.actions.push_back(Action::Deleted {
                    source: bundle.source().clone(),
                    creation: bundle.creation(),
                    reason: error.reason(),
                });
                Ok(None)
            }
        }
    }
}

fn count(counts: &mut [u64; 5], e: &SecurityError) {
    if let Some(slot) = Failure::ALL.iter().position(|f| *f == e.failure).and_then(|i| counts.get_mut(i)) {
        *slot += 1;
    }
}
