//! The `[bpsec]` section: the node's security policy (`dtn_core::bpsec::Policy`) and the
//! key files it names.
//!
//! ```toml
//! [bpsec]
//! # JWK files (RFC 7517, "kty": "oct", the key base64url in "k") — the format hardy reads,
//! # so keys can be shared with it. A file others can read is refused.
//! keys = [
//!   { id = "node20-2026a", file = "keys/node20-2026a.jwk" },
//!   { id = "node20-2026b", file = "keys/node20-2026b.jwk" },   # rotation: both accepted
//! ]
//!
//! [[bpsec.rule]]
//! name = "custody signals from node 20 are signed by it"
//! role = "acceptor"              # source | verifier | acceptor
//! service = "integrity"          # integrity (BIB) | confidentiality (BCB)
//! bundles = "admin"              # any | admin | data
//! source = "ipn:20.*"            # EID patterns (as [ltp] green)
//! destination = "ipn:10.0"
//! blocks = ["payload"]           # primary, payload, previous-node, bundle-age, hop-count, or numbers
//! security_source = "ipn:20.0"   # verifier/acceptor: whose operations count
//! context = "hmac-sha384"        # hmac-sha256 | hmac-sha384 | hmac-sha512 | aes128-gcm | aes256-gcm,
//!                                # or COSE: cose-hmac256|384|512, cose-esp256, cose-esp384,
//!                                # cose-ed25519, cose-a128gcm, cose-a256gcm (COSE_Key files)
//! scope = 7                      # RFC 9173 scope flags (default 7)
//! keys = ["node20-2026a", "node20-2026b"]   # a source signs with the first
//! wrap = false                   # source: a fresh key per bundle, wrapped under the rule's key
//! on_request = false             # source: only ADUs whose application asks (dtn send --sign/--encrypt)
//! on_failure = "drop"            # drop-with-report | drop | strip
//! ```

use std::path::{Path, PathBuf};

use base64::Engine;
use dtn_core::bpsec::bcb_aes_gcm::AesVariant;
use dtn_core::bpsec::cose::{Alg, CoseKey, Curve, KeyKind};
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{BundleKind, Context, OnFailure, Policy, Role, Rule, Service};
use dtn_core::bundle::block_type;
use dtn_core::eid::EidPattern;
use serde::Deserialize;
use toml::Spanned;

use super::config::ConfigError;

type Err<'a> = &'a dyn Fn(std::ops::Range<usize>, String) -> ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBpsec {
    #[serde(default)]
    keys: Vec<RawKey>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: Spanned<String>,
    file: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    role: Spanned<String>,
    service: Spanned<String>,
    #[serde(default = "any")]
    bundles: Spanned<String>,
    #[serde(default = "everything")]
    source: Spanned<String>,
    #[serde(default = "everything")]
    destination: Spanned<String>,
    #[serde(default = "payload")]
    blocks: Vec<Spanned<toml::Value>>,
    security_source: Option<Spanned<String>>,
    context: Option<Spanned<String>>,
    #[serde(default = "seven")]
    scope: Spanned<u64>,
    keys: Spanned<Vec<String>>,
    #[serde(default)]
    wrap: bool,
    #[serde(default)]
    on_request: Option<Spanned<bool>>,
    #[serde(default = "drop_with_report")]
    on_failure: Spanned<String>,
}

fn any() -> Spanned<String> {
    Spanned::new(0..0, "any".into())
}
fn everything() -> Spanned<String> {
    Spanned::new(0..0, "*:**".into())
}
fn payload() -> Vec<Spanned<toml::Value>> {
    vec![Spanned::new(0..0, toml::Value::String("payload".into()))]
}
fn seven() -> Spanned<u64> {
    Spanned::new(0..0, 7)
}
fn drop_with_report() -> Spanned<String> {
    Spanned::new(0..0, "drop-with-report".into())
}

fn choice<T: Copy>(s: &Spanned<String>, field: &str, options: &[(&str, T)], err: Err<'_>) -> Result<T, ConfigError> {
    options.iter().find(|(name, _)| *name == s.get_ref()).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        err(s.span(), format!("{field} = {:?}: expected {}", s.get_ref(), names.join(", ")))
    })
}

fn pattern(s: &Spanned<String>, field: &str, err: Err<'_>) -> Result<EidPattern, ConfigError> {
    s.get_ref().parse::<EidPattern>().map_err(|e| {
        let at = s.span().start + 1 + e.offset;
        err(at..at + 1, format!("{field} = {:?}: {e}", s.get_ref()))
    })
}

fn block_code(v: &Spanned<toml::Value>, err: Err<'_>) -> Result<u64, ConfigError> {
    match v.get_ref() {
        toml::Value::Integer(n) if *n >= 0 => Ok(*n as u64),
        toml::Value::String(s) => match s.as_str() {
            "primary" => Ok(0),
            "payload" => Ok(block_type::PAYLOAD),
            "previous-node" => Ok(block_type::PREVIOUS_NODE),
            "bundle-age" => Ok(block_type::BUNDLE_AGE),
            "hop-count" => Ok(block_type::HOP_COUNT),
            other => Err(err(
                v.span(),
                format!(
                    "block {other:?}: expected primary, payload, previous-node, bundle-age, hop-count or a type number"
                ),
            )),
        },
        _ => Err(err(v.span(), "a block is a name or a type number".into())),
    }
}

/// A key file's key: a JWK's bytes (the RFC 9173 contexts) or a COSE_Key (the COSE
/// context).
#[derive(Debug, Clone)]
pub enum KeyFile {
    /// A symmetric JWK's key.
    Jwk(Vec<u8>),
    /// A COSE_Key (binary CBOR: a map, or a key set of one).
    Cose(CoseKey),
}

impl KeyFile {
    /// What the policy's key ring holds: the key, or the COSE_Key's encoding.
    pub fn ring_bytes(&self) -> Vec<u8> {
        match self {
            KeyFile::Jwk(k) => k.clone(),
            KeyFile::Cose(k) => k.encode(),
        }
    }
}

fn secret(key: &CoseKey) -> bool {
    match &key.kind {
        KeyKind::Symmetric { .. } => true,
        KeyKind::Ec2 { d, .. } | KeyKind::Ed25519 { d, .. } => d.is_some(),
    }
}

/// Reads a key file — a JWK (JSON text) or a COSE_Key (binary) — refusing a secret one
/// others can read (a COSE public key may be world-readable). The message never holds key
/// material.
pub fn read_key_file(path: &Path) -> Result<KeyFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return read_jwk(path).map(KeyFile::Jwk);
    }
    let key = CoseKey::decode(&bytes).map_err(|e| format!("key file {}: neither a JWK nor a {e}", path.display()))?;
    if secret(&key) {
        private_mode(path)?;
    }
    Ok(KeyFile::Cose(key))
}

fn private_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "key file {} is readable by others (mode {mode:o}): make it the owner's alone (chmod 600)",
            path.display()
        ));
    }
    Ok(())
}

/// Writes a COSE_Key file: mode 0600 when it holds a secret, 0644 for a public key.
pub fn write_cose_key(path: &Path, key: &CoseKey) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if secret(key) { 0o600 } else { 0o644 };
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    f.write_all(&key.encode())
}

/// Reads a JWK file with a symmetric key, refusing one others can read. The message never
/// holds key material.
pub fn read_jwk(path: &Path) -> Result<Vec<u8>, String> {
    private_mode(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    let jwk: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("key file {}: not JSON ({e})", path.display()))?;
    if jwk.get("kty").and_then(|v| v.as_str()) != Some("oct") {
        return Err(format!("key file {}: a symmetric JWK (\"kty\": \"oct\") is expected", path.display()));
    }
    let k = jwk.get("k").and_then(|v| v.as_str()).ok_or(format!("key file {}: no \"k\"", path.display()))?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(k.trim_end_matches('='))
        .map_err(|_| format!("key file {}: \"k\" is not base64url", path.display()))?;
    if key.len() < 16 {
        return Err(format!("key file {}: a key of {} bytes is too short (16 at least)", path.display(), key.len()));
    }
    Ok(key)
}

/// Writes a JWK file for `key`, readable by its owner alone.
pub fn write_jwk(path: &Path, id: &str, key: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let jwk = serde_json::json!({
        "kty": "oct",
        "kid": id,
        "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
    });
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(format!("{jwk}\n").as_bytes())
}

impl RawBpsec {
    /// Checks the section and reads its key files (relative to `base`).
    pub(super) fn check(&self, base: &Path, err: Err<'_>) -> Result<Policy, ConfigError> {
        let mut policy = Policy::default();
        let mut cose = std::collections::BTreeMap::new();
        for k in &self.keys {
            if policy.keys.get(k.id.get_ref()).is_some() {
                return Err(err(k.id.span(), format!("key {:?} is listed twice", k.id.get_ref())));
            }
            let file = k.file.get_ref();
            let path = if Path::new(file).is_absolute() { PathBuf::from(file) } else { base.join(file) };
            let key = read_key_file(&path).map_err(|m| err(k.file.span(), m))?;
            policy.keys.insert(k.id.get_ref().clone(), key.ring_bytes());
            if let KeyFile::Cose(key) = key {
                cose.insert(k.id.get_ref().clone(), key);
            }
        }
        for (i, r) in self.rule.iter().enumerate() {
            policy.rules.push(self.rule(i, r, &policy, &cose, err)?);
        }
        Ok(policy)
    }

    fn rule(
        &self,
        i: usize,
        r: &RawRule,
        policy: &Policy,
        cose: &std::collections::BTreeMap<String, CoseKey>,
        err: Err<'_>,
    ) -> Result<Rule, ConfigError> {
        let role = choice(
            &r.role,
            "role",
            &[("source", Role::Source), ("verifier", Role::Verifier), ("acceptor", Role::Acceptor)],
            err,
        )?;
        let service = choice(
            &r.service,
            "service",
            &[("integrity", Service::Integrity), ("confidentiality", Service::Confidentiality)],
            err,
        )?;
        let bundles = choice(
            &r.bundles,
            "bundles",
            &[("any", BundleKind::Any), ("admin", BundleKind::Admin), ("data", BundleKind::Data)],
            err,
        )?;
        let on_failure = choice(
            &r.on_failure,
            "on_failure",
            &[("drop-with-report", OnFailure::DropWithReport), ("drop", OnFailure::Drop), ("strip", OnFailure::Strip)],
            err,
        )?;
        let scope = *r.scope.get_ref();
        if scope > 7 {
            return Err(err(r.scope.span(), format!("scope = {scope}: the flags are 0 to 7")));
        }
        let default_context = if service == Service::Integrity { "hmac-sha384" } else { "aes256-gcm" };
        let context_name = r.context.clone().unwrap_or_else(|| Spanned::new(r.role.span(), default_context.into()));
        let context = choice(
            &context_name,
            "context",
            &[
                ("hmac-sha256", Context::HmacSha2 { variant: ShaVariant::Sha256, scope }),
                ("hmac-sha384", Context::HmacSha2 { variant: ShaVariant::Sha384, scope }),
                ("hmac-sha512", Context::HmacSha2 { variant: ShaVariant::Sha512, scope }),
                ("aes128-gcm", Context::AesGcm { variant: AesVariant::A128, scope }),
                ("aes256-gcm", Context::AesGcm { variant: AesVariant::A256, scope }),
                ("cose-hmac256", Context::Cose(Alg::Hmac(ShaVariant::Sha256))),
                ("cose-hmac384", Context::Cose(Alg::Hmac(ShaVariant::Sha384))),
                ("cose-hmac512", Context::Cose(Alg::Hmac(ShaVariant::Sha512))),
                ("cose-esp256", Context::Cose(Alg::Ecdsa(Curve::P256))),
                ("cose-esp384", Context::Cose(Alg::Ecdsa(Curve::P384))),
                ("cose-ed25519", Context::Cose(Alg::Ed25519)),
                ("cose-a128gcm", Context::Cose(Alg::Gcm(AesVariant::A128))),
                ("cose-a256gcm", Context::Cose(Alg::Gcm(AesVariant::A256))),
            ],
            err,
        )?;
        let fits = matches!((service, context), (Service::Integrity, Context::HmacSha2 { .. }))
            || matches!((service, context), (Service::Confidentiality, Context::AesGcm { .. }))
            || matches!(context, Context::Cose(alg) if alg.is_integrity() == (service == Service::Integrity));
        if !fits {
            return Err(err(
                context_name.span(),
                format!("context {:?} is not for {}", context_name.get_ref(), r.service.get_ref()),
            ));
        }
        let keys = r.keys.get_ref().clone();
        if keys.is_empty() {
            return Err(err(r.keys.span(), "a rule names at least one key".into()));
        }
        for id in &keys {
            let Some(key) = policy.keys.get(id) else {
                return Err(err(r.keys.span(), format!("key {id:?} is not in [bpsec] keys")));
            };
            match (context, cose.get(id)) {
                (Context::Cose(alg), Some(k)) => {
                    if !k.fits(alg, role == Role::Source) {
                        let need = if role == Role::Source { " (a source needs the private key)" } else { "" };
                        return Err(err(
                            r.keys.span(),
                            format!("key {id:?} does not fit {}{need}", context_name.get_ref()),
                        ));
                    }
                    if r.wrap {
                        return Err(err(r.keys.span(), "wrap is for the RFC 9173 contexts".into()));
                    }
                    continue;
                }
                (Context::Cose(_), None) => {
                    return Err(err(r.keys.span(), format!("key {id:?} is a JWK: COSE contexts take COSE_Key files")));
                }
                (_, Some(_)) => {
                    return Err(err(
                        r.keys.span(),
                        format!("key {id:?} is a COSE_Key: {} takes JWK files", context_name.get_ref()),
                    ));
                }
                (_, None) => {}
            }
            let len = key.len();
            let kek_sized = [16, 24, 32].contains(&len);
            match context {
                // A source encrypting with the key itself needs the variant's length.
                Context::AesGcm { variant, .. } if role == Role::Source && !r.wrap && len != variant.key_len() => {
                    return Err(err(
                        r.keys.span(),
                        format!("key {id:?} is {len} bytes: {} needs {}", context_name.get_ref(), variant.key_len()),
                    ));
                }
                // A receiver's key may be the content key or the key that wraps it.
                Context::AesGcm { .. } if !kek_sized => {
                    return Err(err(r.keys.span(), format!("key {id:?} is {len} bytes: AES keys are 16, 24 or 32")));
                }
                _ if r.wrap && !kek_sized => {
                    return Err(err(
                        r.keys.span(),
                        format!("key {id:?} wraps keys: it is 16, 24 or 32 bytes, not {len}"),
                    ));
                }
                _ => {}
            }
        }
        let mut block_types = Vec::new();
        for b in &r.blocks {
            let code = block_code(b, err)?;
            if service == Service::Confidentiality && code == 0 {
                return Err(err(b.span(), "a BCB never covers the primary block".into()));
            }
            if code == block_type::BIB || code == block_type::BCB {
                return Err(err(b.span(), "security blocks are not targets of a rule".into()));
            }
            block_types.push(code);
        }
        let on_request = match &r.on_request {
            Some(s) if role != Role::Source => {
                return Err(err(
                    s.span(),
                    "on_request is for source rules: an application asks what its bundles get".into(),
                ));
            }
            Some(s) => *s.get_ref(),
            None => false,
        };
        let security_source = match &r.security_source {
            None => None,
            Some(s) => Some(pattern(s, "security_source", err)?),
        };
        Ok(Rule {
            name: r.name.clone().unwrap_or_else(|| format!("rule {}", i + 1)),
            role,
            service,
            source: pattern(&r.source, "source", err)?,
            destination: pattern(&r.destination, "destination", err)?,
            bundles,
            block_types,
            security_source,
            context,
            keys,
            wrap: r.wrap,
            on_request,
            on_failure,
        })
    }
}
