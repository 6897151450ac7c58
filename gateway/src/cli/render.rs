//! Human-readable and JSON views of a bundle.

use std::fmt::Write;

use dtn_core::admin::{AdminRecord, StatusItem};
use dtn_core::bundle::{Bundle, CanonicalBlock, block_type};
use dtn_core::crc::CrcType;
use dtn_core::parse_mode::ParseMode;
use serde_json::{Value, json};

use super::input::encode_hex;

fn crc_name(crc: CrcType) -> &'static str {
    match crc {
        CrcType::None => "none",
        CrcType::Crc16 => "CRC-16",
        CrcType::Crc32c => "CRC-32C",
    }
}

/// A block's value; `encrypted` lists (sorted) the blocks a BCB targets.
fn block_value(bundle: &Bundle, block: &CanonicalBlock, encrypted: &[u64]) -> Value {
    match block.block_type {
        block_type::PREVIOUS_NODE => json!({ "node": bundle.previous_node().map(ToString::to_string) }),
        block_type::BUNDLE_AGE => json!({ "age_ms": bundle.bundle_age_ms() }),
        block_type::HOP_COUNT => {
            let hc = bundle.hop_count();
            json!({ "hop_limit": hc.map(|h| h.limit), "hop_count": hc.map(|h| h.count) })
        }
        block_type::BIB | block_type::BCB => security_value(block, encrypted),
        block_type::PAYLOAD if encrypted.binary_search(&1).is_ok() => {
            json!({ "ciphertext_hex": short_hex(&block.data) })
        }
        block_type::PAYLOAD => match std::str::from_utf8(&block.data) {
            Ok(text) if !bundle.is_admin_record() && block.data.len() <= 4096 => json!({ "text": text }),
            _ => json!({ "hex": encode_hex(&block.data[..block.data.len().min(4096)]) }),
        },
        _ => json!({ "hex": encode_hex(&block.data[..block.data.len().min(4096)]) }),
    }
}

fn short_hex(data: &[u8]) -> String {
    encode_hex(&data[..data.len().min(4096)])
}

fn items(items: &[dtn_core::bpsec::SecurityItem]) -> Vec<Value> {
    items.iter().map(|i| json!({ "id": i.id, "value_hex": encode_hex(&i.value) })).collect()
}

/// A COSE context result: the message's kind, algorithm and key ID, then its bytes.
fn cose_items(items: &[dtn_core::bpsec::SecurityItem]) -> Vec<Value> {
    use dtn_core::bpsec::cose::{self, message::Message};
    items
        .iter()
        .map(|i| {
            let kind = match i.id {
                cose::RESULT_ENCRYPT0 => "COSE_Encrypt0",
                cose::RESULT_MAC0 => "COSE_Mac0",
                cose::RESULT_SIGN1 => "COSE_Sign1",
                _ => "unknown",
            };
            let message = i.as_bytes().map(|b| Message::decode(b, i.id != cose::RESULT_ENCRYPT0));
            match message {
                Some(Ok(m)) => json!({
                    "id": i.id,
                    "message": kind,
                    "alg": m.headers.alg,
                    "kid": m.headers.kid.as_deref().map(|k| String::from_utf8_lossy(k).into_owned()),
                    "value_hex": encode_hex(&i.value),
                }),
                Some(Err(e)) => json!({ "id": i.id, "message": kind, "error": e, "value_hex": encode_hex(&i.value) }),
                None => json!({ "id": i.id, "value_hex": encode_hex(&i.value) }),
            }
        })
        .collect()
}

/// A BIB or BCB: its targets, context, security source, parameters and results — or, for a
/// BIB a BCB encrypts, that it is ciphertext.
fn security_value(block: &CanonicalBlock, encrypted: &[u64]) -> Value {
    if encrypted.binary_search(&block.number).is_ok() {
        return json!({ "encrypted": true, "ciphertext_hex": short_hex(&block.data) });
    }
    match dtn_core::bpsec::Asb::decode(&block.data, ParseMode::Strict) {
        Ok(asb) => json!({
            "targets": asb.targets,
            "context": asb.context_id,
            "context_name": match asb.context_id {
                dtn_core::bpsec::CONTEXT_BIB_HMAC_SHA2 => "BIB-HMAC-SHA2",
                dtn_core::bpsec::CONTEXT_BCB_AES_GCM => "BCB-AES-GCM",
                dtn_core::bpsec::cose::CONTEXT_COSE => "COSE",
                _ => "unknown",
            },
            "security_source": asb.source.to_string(),
            "parameters": asb.parameters.as_deref().map(items),
            "results": asb
                .results
                .iter()
                .map(|r| if asb.context_id == dtn_core::bpsec::cose::CONTEXT_COSE { cose_items(r) } else { items(r) })
                .collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn status_item(item: &StatusItem) -> Value {
    json!({ "asserted": item.asserted, "time_ms": item.time.map(|t| t.0) })
}

fn admin_json(bundle: &Bundle) -> Value {
    match AdminRecord::from_bundle(bundle) {
        Ok(AdminRecord::StatusReport(r)) => json!({
            "type": "status_report",
            "received": status_item(&r.received),
            "forwarded": status_item(&r.forwarded),
            "delivered": status_item(&r.delivered),
            "deleted": status_item(&r.deleted),
            "reason": r.reason.code(),
            "reason_text": r.reason.description(),
            "subject_source": r.source.to_string(),
            "subject_creation_ms": r.creation.time.0,
            "subject_sequence": r.creation.sequence,
            "subject_fragment": r.fragment.map(|(o, l)| json!({ "offset": o, "length": l })),
        }),
        Ok(AdminRecord::Bpdu(bpdu)) => json!({
            "type": "bibe_pdu",
            "transmission_id": bpdu.transmission_id,
            "retransmission_time_ms": bpdu.retransmission_time,
            "encapsulated_bundle_length": bpdu.bundle.len(),
        }),
        Ok(AdminRecord::CustodySignal(signal)) => json!({
            "type": "custody_signal",
            "disposition": signal.disposition.code(),
            "ranges": signal.ranges.iter().map(|(first, count)| json!([first, count])).collect::<Vec<_>>(),
        }),
        Ok(AdminRecord::Other { record_type, content }) => {
            json!({ "type": record_type, "content_hex": encode_hex(&content) })
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// The bundle as a JSON object.
pub fn json(bundle: &Bundle, mode: ParseMode) -> Value {
    let p = bundle.primary();
    let encrypted = bundle.encrypted_blocks();
    let blocks: Vec<Value> = bundle
        .blocks()
        .iter()
        .map(|b| {
            json!({
                "number": b.number,
                "type": b.block_type,
                "type_name": block_type::name(b.block_type),
                "flags": b.flags.0,
                "flag_names": b.flags.names().collect::<Vec<_>>(),
                "crc_type": b.crc_type.code(),
                "data_length": b.data.len(),
                "value": block_value(bundle, b, &encrypted),
            })
        })
        .collect();
    let mut out = json!({
        "length": bundle.raw().len(),
        "mode": if mode.is_strict() { "strict" } else { "relaxed" },
        "relaxations": bundle.relaxations().iter().map(|r| r.description()).collect::<Vec<_>>(),
        "primary": {
            "version": 7,
            "flags": p.flags.0,
            "flag_names": p.flags.names().collect::<Vec<_>>(),
            "crc_type": p.crc_type.code(),
            "destination": p.destination.to_string(),
            "source": p.source.to_string(),
            "report_to": p.report_to.to_string(),
            "creation_time_ms": p.creation.time.0,
            "creation_time": p.creation.time.to_string(),
            "sequence": p.creation.sequence,
            "lifetime_ms": p.lifetime_ms,
            "fragment": p.fragment.map(|f| json!({ "offset": f.offset, "total_adu_length": f.total_adu_length })),
        },
        "blocks": blocks,
    });
    if bundle.is_admin_record() {
        out["admin_record"] = admin_json(bundle);
    }
    if let Some(rules) = security_rules(bundle) {
        out["security"] = json!(rules);
    }
    out
}

/// Whether the security blocks keep RFC 9172's rules (`None`: the bundle has none).
fn security_rules(bundle: &Bundle) -> Option<String> {
    let has = bundle.blocks().iter().any(|b| [block_type::BIB, block_type::BCB].contains(&b.block_type));
    has.then(|| match dtn_core::bpsec::Security::of(bundle) {
        Ok(_) => "the security blocks keep RFC 9172's rules".to_string(),
        Err(e) => e.to_string(),
    })
}

/// The bundle as indented text.
pub fn text(bundle: &Bundle, mode: ParseMode) -> String {
    let p = bundle.primary();
    let mut s = String::new();
    let verdict = if bundle.relaxations().is_empty() { "valid" } else { "accepted with relaxations" };
    let _ = writeln!(
        s,
        "bundle: {} bytes, {verdict} ({} mode)",
        bundle.raw().len(),
        if mode.is_strict() { "strict" } else { "relaxed" }
    );
    for r in bundle.relaxations().iter() {
        let _ = writeln!(s, "  relaxed:     {r}");
    }
    let names: Vec<_> = p.flags.names().collect();
    let _ = writeln!(s, "  flags:       {} [{}]", p.flags, names.join(", "));
    let _ = writeln!(s, "  source:      {}", p.source);
    let _ = writeln!(s, "  destination: {}", p.destination);
    let _ = writeln!(s, "  report-to:   {}", p.report_to);
    let _ = writeln!(
        s,
        "  created:     {} (DTN {} ms), sequence {}",
        p.creation.time, p.creation.time.0, p.creation.sequence
    );
    match p.expiry() {
        Some(at) => {
            let _ = writeln!(s, "  lifetime:    {} ms, expires {at}", p.lifetime_ms);
        }
        None => {
            let _ = writeln!(s, "  lifetime:    {} ms (no creation clock: expiry by bundle age)", p.lifetime_ms);
        }
    }
    if let Some(f) = p.fragment {
        let _ = writeln!(s, "  fragment:    offset {} of {} bytes", f.offset, f.total_adu_length);
    }
    let _ = writeln!(s, "  primary CRC: {}", crc_name(p.crc_type));
    let encrypted = bundle.encrypted_blocks();
    for b in bundle.blocks() {
        let flags: Vec<_> = b.flags.names().collect();
        let value = match block_value(bundle, b, &encrypted) {
            Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
            other => other.to_string(),
        };
        let _ = writeln!(
            s,
            "  block {:<3} {:<14} type {:<3} flags {} [{}] {} {} bytes  {}",
            b.number,
            block_type::name(b.block_type),
            b.block_type,
            b.flags,
            flags.join(", "),
            crc_name(b.crc_type),
            b.data.len(),
            value
        );
    }
    if bundle.is_admin_record() {
        let _ = writeln!(s, "  admin record: {}", admin_json(bundle));
    }
    if let Some(rules) = security_rules(bundle) {
        let _ = writeln!(s, "  security:    {rules}");
    }
    s
}
