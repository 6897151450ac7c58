//! `dtn status` for people: the gateway's `/node` JSON as a short report.

use std::fmt::Write;

use serde_json::Value;

/// A readable report of a `/node` snapshot; `now_ms` (DTN time) makes contact times relative.
pub fn render(json: &str, now_ms: u64) -> Result<String, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("the gateway's status is not JSON: {e}"))?;
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut out = String::new();
    let g = &v["gauges"];
    let _ = writeln!(
        out,
        "node {}: {} bundles held, {} of {} stored",
        u(&v["node"]),
        u(&g["bundles_stored"]),
        bytes(u(&g["store_bytes"])),
        bytes(u(&g["store_budget"]))
    );
    let links = v["links"].as_array().map(Vec::as_slice).unwrap_or_default();
    let _ = writeln!(out, "links up: {}", links.len());
    for l in links {
        let _ = writeln!(
            out,
            "  node {:<6} {:<6} {}{}{}",
            u(&l["peer"]),
            l["cla"].as_str().unwrap_or("?"),
            l["address"].as_str().unwrap_or("?"),
            if l["tls"].as_bool() == Some(true) { ", TLS" } else { "" },
            if l["open"].as_bool() == Some(false) { ", closing" } else { "" }
        );
    }
    let contacts = v["contacts"].as_array().map(Vec::as_slice).unwrap_or_default();
    let _ = writeln!(out, "contacts: {} in the plan not yet over", contacts.len());
    for c in contacts.iter().take(8) {
        let (start, end) = (u(&c["start_ms"]), u(&c["end_ms"]));
        let when = if start <= now_ms {
            format!("now, {} left", span(end.saturating_sub(now_ms)))
        } else {
            format!("in {}, for {}", span(start - now_ms), span(end.saturating_sub(start)))
        };
        let rate = match u(&c["rate"]) {
            0 => "unlimited".to_string(),
            r => format!("{}/s", bytes(r)),
        };
        let _ =
            writeln!(out, "  {} -> {}  {when}  {rate}  light time {} ms", u(&c["from"]), u(&c["to"]), u(&c["owlt_ms"]));
    }
    let queues: Vec<String> = v["queues"]
        .as_object()
        .map(|q| q.iter().filter(|(_, n)| u(n) > 0).map(|(state, n)| format!("{state} {}", u(n))).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "queues: {}", if queues.is_empty() { "empty".to_string() } else { queues.join(", ") });
    let counters: Vec<String> = v["counters"]
        .as_object()
        .map(|c| c.iter().filter(|(_, n)| u(n) > 0).map(|(name, n)| format!("{name} {}", u(n))).collect())
        .unwrap_or_default();
    if !counters.is_empty() {
        let _ = writeln!(out, "counters: {}", counters.join(", "));
    }
    Ok(out)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B")) }
}

fn span(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{:.1} s", ms as f64 / 1e3),
        120_000..7_200_000 => format!("{:.1} min", ms as f64 / 6e4),
        _ => format!("{:.1} h", ms as f64 / 3.6e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_links_contacts_queues_and_counters() {
        let json = r#"{"node":2,"links":[{"id":1,"peer":3,"cla":"quic","address":"127.0.0.1:4803","tls":true,"open":true}],
            "contacts":[{"from":2,"to":3,"start_ms":1000,"end_ms":61000,"rate":125000,"owlt_ms":2,"active":true},
                        {"from":3,"to":2,"start_ms":100000,"end_ms":700000,"rate":0,"owlt_ms":1300,"active":false}],
            "queues":{"Waiting":4,"InFlight":0},"bundles":[],
            "gauges":{"bundles_stored":4,"store_bytes":5120,"store_budget":1073741824,"links_up":1},
            "counters":{"bundles_received":9,"bundles_deleted":0}}"#;
        let text = render(json, 31_000).unwrap();
        assert!(text.contains("node 2: 4 bundles held, 5.0 KiB of 1.0 GiB stored"), "{text}");
        assert!(text.contains("node 3      quic   127.0.0.1:4803, TLS"), "{text}");
        assert!(text.contains("2 -> 3  now, 30.0 s left  122.1 KiB/s  light time 2 ms"), "{text}");
        assert!(text.contains("3 -> 2  in 69.0 s, for 10.0 min  unlimited  light time 1300 ms"), "{text}");
        assert!(text.contains("queues: Waiting 4\n"), "{text}");
        assert!(text.contains("counters: bundles_received 9\n"), "{text}");
        assert!(render("not json", 0).is_err());
    }
}
