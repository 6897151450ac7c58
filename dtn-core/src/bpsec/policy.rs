//! Security policy: which operations a node adds, checks or accepts, on which bundles, with
//! which keys, and what happens when one fails — the model ION and HDTN use: rules that
//! match a bundle by its source, destination and kind and name a role, a service, the block
//! types it covers, a context and key IDs.
//!
//! Outbound (bundles created here), the security-source rules sign, then encrypt. Inbound
//! (bundles from links, and the bundle inside a BIBE PDU), the verifier and acceptor rules
//! decrypt, then verify. A failure is counted and, as the rule says, drops the bundle with
//! a status report, drops it silently, or strips the failing block and goes on. An operation
//! over a fragment's payload waits for reassembly (RFC 9172 5).
//!
//! Several key IDs may be active on a rule at once (rotation): a source uses the first, a
//! verifier tries each. Key material never appears in `Debug` output.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::bcb_aes_gcm::AesVariant;
use super::crypto::Crypto;
use super::error::{Failure, SecurityError};
use super::hmac_sha2::ShaVariant;
use super::random::Drbg;
use super::rules::Security;
use super::source::{Encrypt, KeyMaterial, Placement, Sign, encrypt_apart, sign};
use super::verifier::{accept_bcbs_with, accept_bibs_with, decrypt_targets, verify_bib};
use crate::bundle::Bundle;
use crate::eid::{Eid, EidPattern};

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Adds the operation to bundles created here.
    Source,
    /// Checks the operation and leaves it in place.
    Verifier,
    /// Checks the operation and removes it (decrypting, for confidentiality).
    Acceptor,
}

/// Which security service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// BIB.
    Integrity,
    /// BCB.
    Confidentiality,
}

/// Which bundles a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// Every bundle.
    Any,
    /// Administrative records (custody signals, BIBE PDUs, status reports).
    Admin,
    /// Everything else.
    Data,
}

/// The services an application asks for one ADU (the bridge's SUBMIT): the node's policy
/// must give its payload a BIB, a BCB or both, or the submission is refused (reason 12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Protection {
    /// A BIB over the payload.
    pub integrity: bool,
    /// A BCB over the payload.
    pub confidentiality: bool,
}

impl Protection {
    /// None asked.
    pub const NONE: Protection = Protection { integrity: false, confidentiality: false };

    /// From the bridge's bits: 1 integrity, 2 confidentiality (`None` for any other bit).
    pub fn from_bits(bits: u64) -> Option<Protection> {
        (bits & !3 == 0).then_some(Protection { integrity: bits & 1 != 0, confidentiality: bits & 2 != 0 })
    }

    /// The bridge's bits.
    pub fn bits(self) -> u64 {
        u64::from(self.integrity) | (u64::from(self.confidentiality) << 1)
    }

    /// Whether `service` is asked for.
    pub fn asks(self, service: Service) -> bool {
        match service {
            Service::Integrity => self.integrity,
            Service::Confidentiality => self.confidentiality,
        }
    }
}

/// What a failed operation does to the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Delete it and send a status report with the failure's reason code (12–16).
    DropWithReport,
    /// Delete it, counted but unreported.
    Drop,
    /// Remove the failing security block and go on.
    Strip,
}

/// The context and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// BIB-HMAC-SHA2.
    HmacSha2 {
        /// The hash.
        variant: ShaVariant,
        /// The integrity scope flags.
        scope: u64,
    },
    /// BCB-AES-GCM.
    AesGcm {
        /// The key size.
        variant: AesVariant,
        /// The AAD scope flags.
        scope: u64,
    },
    /// The COSE context with this algorithm (its keys are COSE_Key encodings; the default
    /// AAD scope).
    Cose(super::cose::Alg),
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// A name for logs and errors.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The service.
    pub service: Service,
    /// Bundles from these sources.
    pub source: EidPattern,
    /// Bundles to these destinations.
    pub destination: EidPattern,
    /// Which kind of bundle.
    pub bundles: BundleKind,
    /// The block types covered (0: the primary block, 1: the payload).
    pub block_types: Vec<u64>,
    /// Verifier and acceptor: the operation must come from one of these security sources
    /// (others fail as "unexpected"); `None`: from anyone holding a key.
    pub security_source: Option<EidPattern>,
    /// The context.
    pub context: Context,
    /// Key IDs in the node's key ring; a source uses the first.
    pub keys: Vec<String>,
    /// Source: send a fresh per-bundle key wrapped under the rule's key.
    pub wrap: bool,
    /// Source: applied only to the ADUs whose application asks for the rule's service
    /// ([`Protection`]); otherwise to every bundle the rule matches.
    pub on_request: bool,
    /// What a failure does.
    pub on_failure: OnFailure,
}

/// Named keys.
#[derive(Clone, Default)]
pub struct KeyRing {
    keys: BTreeMap<String, Vec<u8>>,
}

impl core::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.keys.keys()).finish()
    }
}

impl KeyRing {
    /// Adds (or replaces) a key.
    pub fn insert(&mut self, id: impl Into<String>, material: Vec<u8>) {
        self.keys.insert(id.into(), material);
    }

    /// A key's material.
    pub fn get(&self, id: &str) -> Option<&[u8]> {
        self.keys.get(id).map(Vec::as_slice)
    }

    /// The IDs.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// A node's security policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The rules, applied in order within each stage.
    pub rules: Vec<Rule>,
    /// The keys they name.
    pub keys: KeyRing,
}

/// What became of an inbound bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// It goes on (changed, where an acceptor removed operations or a block was stripped).
    Pass(alloc::boxed::Box<Bundle>),
    /// It is deleted.
    Drop {
        /// The failure.
        error: SecurityError,
        /// With a status report.
        report: bool,
        /// The rule that failed.
        rule: String,
    },
}

impl Rule {
    /// The drop a failure means under this rule, or `None` when the rule strips and goes on.
    fn drop_for(&self, error: SecurityError) -> Option<Inbound> {
        let report = match self.on_failure {
            OnFailure::DropWithReport => true,
            OnFailure::Drop => false,
            OnFailure::Strip => return None,
        };
        Some(Inbound::Drop { error, report, rule: self.name.clone() })
    }

    fn matches(&self, bundle: &Bundle) -> bool {
        let kind = match self.bundles {
            BundleKind::Any => true,
            BundleKind::Admin => bundle.is_admin_record(),
            BundleKind::Data => !bundle.is_admin_record(),
        };
        kind && self.source.matches(bundle.source()) && self.destination.matches(bundle.destination())
    }

    /// The numbers of the blocks of the rule's types in `bundle`.
    fn targets(&self, bundle: &Bundle) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        if self.block_types.contains(&0) {
            out.push(0);
        }
        out.extend(bundle.blocks().iter().filter(|b| self.block_types.contains(&b.block_type)).map(|b| b.number));
        out
    }
}

impl Policy {
    /// Whether any rule would act on bundles arriving here.
    pub fn has_inbound(&self) -> bool {
        self.rules.iter().any(|r| r.role != Role::Source)
    }

    fn key_list(&self, rule: &Rule) -> Vec<&[u8]> {
        rule.keys.iter().filter_map(|id| self.keys.get(id)).collect()
    }

    /// Adds the security-source rules' operations to a bundle created here (by `node`):
    /// integrity first, then confidentiality. `asked` is what its application asked for:
    /// it turns on the rules kept for request, and each service asked for must end up
    /// covering the payload.
    pub fn outbound(
        &self,
        crypto: &dyn Crypto,
        drbg: &mut Drbg,
        node: &Eid,
        bundle: Bundle,
        asked: Protection,
    ) -> Result<Bundle, (String, SecurityError)> {
        let mut bundle = bundle;
        for service in [Service::Integrity, Service::Confidentiality] {
            for rule in self.rules.iter().filter(|r| r.role == Role::Source && r.service == service) {
                if !rule.matches(&bundle) || (rule.on_request && !asked.asks(service)) {
                    continue;
                }
                bundle = self.add(crypto, drbg, node, rule, &bundle).map_err(|e| (rule.name.clone(), e))?;
            }
            if asked.asks(service) && !covers_payload(&bundle, service) {
                let message = match service {
                    Service::Integrity => "the application asked for integrity: no source rule signs this payload",
                    Service::Confidentiality => {
                        "the application asked for confidentiality: no source rule encrypts this payload"
                    }
                };
                return Err(("application request".into(), SecurityError::new(Failure::Missing, message).on_target(1)));
            }
        }
        Ok(bundle)
    }

    /// The security-source rules on a bundle this node forwards (a waypoint as security
    /// source, RFC 9172 3.1: a ground gateway encrypting what ground applications send before
    /// it crosses the relays). A rule that cannot be applied (a fragment arrived) acts as its
    /// `on_failure` says; "strip" forwards the bundle as it came.
    pub fn transit(
        &self,
        crypto: &dyn Crypto,
        drbg: &mut Drbg,
        node: &Eid,
        bundle: Bundle,
        failed: &mut dyn FnMut(&SecurityError),
    ) -> Inbound {
        let mut bundle = bundle;
        for service in [Service::Integrity, Service::Confidentiality] {
            for rule in self.rules.iter().filter(|r| r.role == Role::Source && r.service == service) {
                if !rule.matches(&bundle) || rule.on_request {
                    continue;
                }
                match self.add(crypto, drbg, node, rule, &bundle) {
                    Ok(next) => bundle = next,
                    Err(error) => {
                        failed(&error);
                        if let Some(drop) = rule.drop_for(error) {
                            return drop;
                        }
                    }
                }
            }
        }
        Inbound::Pass(alloc::boxed::Box::new(bundle))
    }

    /// Whether any security-source rule exists.
    pub fn has_source(&self) -> bool {
        self.rules.iter().any(|r| r.role == Role::Source)
    }

    fn add(
        &self,
        crypto: &dyn Crypto,
        drbg: &mut Drbg,
        node: &Eid,
        rule: &Rule,
        bundle: &Bundle,
    ) -> Result<Bundle, SecurityError> {
        let security = Security::of(bundle)?;
        let targets: Vec<u64> = rule
            .targets(bundle)
            .into_iter()
            .filter(|&t| match rule.service {
                Service::Integrity => security.bib_over(t).is_none() && security.bcb_over(t).is_none(),
                Service::Confidentiality => t != 0 && security.bcb_over(t).is_none(),
            })
            .collect();
        if targets.is_empty() {
            return Ok(bundle.clone());
        }
        let key = rule
            .keys
            .first()
            .and_then(|id| self.keys.get(id))
            .ok_or(SecurityError::new(Failure::Unknown, "the rule's key is not in the key ring"))?;
        let mut session = [0u8; 32];
        let mut iv = [0u8; 12];
        drbg.fill(&mut session);
        drbg.fill(&mut iv);
        match rule.context {
            Context::HmacSha2 { variant, scope } => {
                let key = if rule.wrap {
                    KeyMaterial::Wrapped { kek: key, session: &session }
                } else {
                    KeyMaterial::Direct(key)
                };
                let op = Sign {
                    targets: &targets,
                    source: node.clone(),
                    variant,
                    scope,
                    key,
                    placement: Placement::default(),
                };
                sign(crypto, bundle, &op)
            }
            Context::AesGcm { variant, scope } => {
                let session = session.get(..variant.key_len()).unwrap_or(&session);
                let key = if rule.wrap { KeyMaterial::Wrapped { kek: key, session } } else { KeyMaterial::Direct(key) };
                let op = Encrypt {
                    targets: &targets,
                    source: node.clone(),
                    variant,
                    scope,
                    iv: &iv,
                    key,
                    placement: Placement::default(),
                };
                // A BCB per block, an IV each: never one GCM nonce for two blocks.
                encrypt_apart(crypto, bundle, &op, &mut |iv| drbg.fill(iv))
            }
            Context::Cose(alg) => add_cose(crypto, rule.service, alg, key, node, bundle, targets, iv),
        }
    }

    /// Applies the verifier and acceptor rules to a bundle that arrived: confidentiality
    /// first, then integrity. `failed` hears of every failure, stripped ones too.
    pub fn inbound(&self, crypto: &dyn Crypto, bundle: Bundle, failed: &mut dyn FnMut(&SecurityError)) -> Inbound {
        let mut bundle = bundle;
        for service in [Service::Confidentiality, Service::Integrity] {
            for rule in self.rules.iter().filter(|r| r.role != Role::Source && r.service == service) {
                if !rule.matches(&bundle) {
                    continue;
                }
                let targets = rule.targets(&bundle);
                // A fragment's payload is checked once reassembled.
                if targets.is_empty() || (bundle.is_fragment() && targets.contains(&1)) {
                    continue;
                }
                match self.check(crypto, rule, &bundle, &targets) {
                    Ok(next) => bundle = next,
                    Err(error) => {
                        failed(&error);
                        match rule.drop_for(error) {
                            Some(drop) => return drop,
                            None => bundle = strip(&bundle, &error),
                        }
                    }
                }
            }
        }
        Inbound::Pass(alloc::boxed::Box::new(bundle))
    }

    fn check(
        &self,
        crypto: &dyn Crypto,
        rule: &Rule,
        bundle: &Bundle,
        targets: &[u64],
    ) -> Result<Bundle, SecurityError> {
        let security = Security::of(bundle)?;
        let keys = self.key_list(rule);
        let mut blocks: Vec<u64> = Vec::new();
        for &t in targets {
            let block = match rule.service {
                Service::Confidentiality => security.bcb_over(t),
                Service::Integrity => security.bib_over(t),
            };
            let Some(block) = block else {
                let hidden = rule.service == Service::Integrity && security.blocks().iter().any(|b| b.asb.is_none());
                let (failure, message) = if hidden {
                    (Failure::Unknown, "the target's BIB may be encrypted: no key opened it")
                } else {
                    (Failure::Missing, "the policy requires an operation the bundle does not carry")
                };
                return Err(SecurityError::new(failure, message).on_target(t));
            };
            if let (Some(pattern), Some(asb)) = (&rule.security_source, &block.asb)
                && !pattern.matches(&asb.source)
            {
                return Err(SecurityError::new(
                    Failure::Unexpected,
                    "the operation is not from a security source the policy names",
                )
                .in_block(block.number())
                .on_target(t));
            }
            blocks.push(block.number());
        }
        blocks.sort_unstable();
        blocks.dedup();
        match (rule.service, rule.role) {
            (Service::Confidentiality, Role::Acceptor) => {
                let with_keys: Vec<(u64, &[&[u8]])> = blocks.iter().map(|&n| (n, keys.as_slice())).collect();
                // BIBs encrypted in BCBs of their own (ours, hardy's) are opened with their
                // targets when the same keys open them: the integrity rules need them readable.
                let over_bibs: Vec<(u64, &[&[u8]])> = security
                    .blocks()
                    .iter()
                    .filter(|b| !b.is_bib() && blocks.binary_search(&b.number()).is_err())
                    .filter(|b| {
                        let is_bib = |t: &u64| {
                            security
                                .canonical(bundle, *t)
                                .is_some_and(|c| c.block_type == crate::bundle::block_type::BIB)
                        };
                        !b.targets().is_empty() && b.targets().iter().all(is_bib)
                    })
                    .map(|b| (b.number(), keys.as_slice()))
                    .collect();
                if !over_bibs.is_empty() {
                    let all: Vec<(u64, &[&[u8]])> = with_keys.iter().chain(&over_bibs).copied().collect();
                    if let Ok(out) = accept_bcbs_with(crypto, bundle, &security, &all) {
                        return Ok(out);
                    }
                }
                accept_bcbs_with(crypto, bundle, &security, &with_keys)
            }
            (Service::Confidentiality, _) => {
                for &n in &blocks {
                    decrypt_targets(crypto, bundle, &security, n, &keys)?;
                }
                Ok(bundle.clone())
            }
            (Service::Integrity, Role::Acceptor) => accept_bibs_with(crypto, bundle, &security, &blocks, &keys),
            (Service::Integrity, _) => {
                for &n in &blocks {
                    verify_bib(crypto, bundle, &security, n, &keys)?;
                }
                Ok(bundle.clone())
            }
        }
    }
}

/// A COSE source operation (the key ring holds the rule's key as a COSE_Key).
#[allow(clippy::too_many_arguments)]
fn add_cose(
    crypto: &dyn Crypto,
    service: Service,
    alg: super::cose::Alg,
    key: &[u8],
    node: &Eid,
    bundle: &Bundle,
    targets: Vec<u64>,
    iv: [u8; 12],
) -> Result<Bundle, SecurityError> {
    let key = super::cose::CoseKey::decode(key)
        .map_err(|_| SecurityError::new(Failure::Unknown, "the rule's key is not a COSE_Key"))?;
    let source = node.clone();
    let placement = Placement::default();
    match service {
        Service::Integrity => {
            let targets: Vec<u64> = targets.into_iter().filter(|&t| t != 0).collect();
            let op = super::cose::CoseSign {
                targets: &targets,
                source,
                alg,
                key: &key,
                scope: None,
                additional_protected: &[],
                placement,
            };
            if targets.is_empty() { Ok(bundle.clone()) } else { super::cose::sign(crypto, bundle, &op) }
        }
        Service::Confidentiality => {
            let op = super::cose::CoseEncrypt { targets: &targets, source, alg, key: &key, iv, scope: None, placement };
            super::cose::encrypt(crypto, bundle, &op)
        }
    }
}

/// Whether a BIB (integrity) or a BCB (confidentiality) covers the payload.
fn covers_payload(bundle: &Bundle, service: Service) -> bool {
    Security::of(bundle).is_ok_and(|s| match service {
        Service::Integrity => s.bib_over(1).is_some(),
        Service::Confidentiality => s.bcb_over(1).is_some(),
    })
}

/// The bundle without the security block that failed (unchanged when none is named, or when
/// the block is a BCB: removing one would leave ciphertext no one can open, so its targets
/// go on as they are).
fn strip(bundle: &Bundle, error: &SecurityError) -> Bundle {
    let Some(number) = error.block else { return bundle.clone() };
    let is_bib = bundle.block(number).is_some_and(|b| b.block_type == crate::bundle::block_type::BIB);
    if !is_bib {
        return bundle.clone();
    }
    let mut editor = bundle.edit();
    editor.remove_block(number);
    editor.build().unwrap_or_else(|_| bundle.clone())
}
