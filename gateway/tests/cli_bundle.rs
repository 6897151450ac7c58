//! `dtn bundle decode|encode` as a user runs them.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn dtn(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dtn"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dtn runs");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/bundles").join(name).display().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn decodes_shipped_sample() {
    let out = dtn(&["bundle", "decode", &example("forwarded.hex")], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in ["valid (strict mode)", "ipn:2.1", "previous-node", "node=\"ipn:3.0\"", "hop_limit=30", "Hello, DTN!"]
    {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
}

#[test]
fn decodes_to_json() {
    let out = dtn(&["bundle", "decode", "--json", &example("status-report.hex")], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["primary"]["source"], "ipn:2.0");
    assert_eq!(json["admin_record"]["type"], "status_report");
    assert_eq!(json["admin_record"]["delivered"]["asserted"], true);
    assert_eq!(json["admin_record"]["subject_sequence"], 6);
}

#[test]
fn rejects_malformed_bundle_with_rule_and_exit_code() {
    let out = dtn(&["bundle", "decode", &example("bad-crc.hex")], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for needle in ["CrcMismatch", "RFC 9171 4.2.1", "at byte", "reason 8"] {
        assert!(stderr.contains(needle), "missing {needle:?} in {stderr}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn rejects_garbage_on_stdin_and_bad_hex() {
    let out = dtn(&["bundle", "decode"], Some(b"\x9f\x89\x07"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Truncated"));
    let out = dtn(&["bundle", "decode", "--hex", "9fzz"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("position 2"));
}

#[test]
fn encodes_what_decode_reads_back() {
    let path = std::env::temp_dir().join(format!("dtn-cli-encode-{}.bundle", std::process::id()));
    let out = dtn(
        &[
            "bundle",
            "encode",
            "--source",
            "ipn:7.1",
            "--dest",
            "dtn://ground/ops",
            "--payload",
            "telemetry",
            "--hop-limit",
            "9",
            "--flag",
            "report-delivery",
            "--block-crc",
            "crc16",
            "--creation-ms",
            "757382400000",
            "--out",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let decoded = dtn(&["bundle", "decode", "--json", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).ok();
    assert!(decoded.status.success(), "{}", text(&decoded.stderr));
    let json: serde_json::Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!(json["primary"]["destination"], "dtn://ground/ops");
    assert_eq!(json["primary"]["flag_names"][0], "report-delivery");
    assert_eq!(json["primary"]["creation_time"], "2024-01-01T00:00:00.000Z");
    assert_eq!(json["blocks"][0]["value"]["hop_limit"], 9);
    assert_eq!(json["blocks"][1]["value"]["text"], "telemetry");
    assert_eq!(json["blocks"][1]["crc_type"], 1);
}

#[test]
fn encode_refuses_forbidden_flags() {
    let out = dtn(&["bundle", "encode", "--source", "dtn:none", "--dest", "ipn:2.1", "--payload", "x"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("must-not-fragment"), "{}", text(&out.stderr));
}

/// `dtn bundle sign | encrypt | decrypt | verify` as an operator chains them, with keys from
/// `dtn bpsec key`; `decode` shows the security blocks; a wrong key fails with its reason.
#[test]
fn signs_encrypts_decrypts_and_verifies_with_key_files() {
    let dir = std::env::temp_dir().join(format!("dtn-cli-bpsec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).display().to_string();
    for (name, bytes) in [("mac.jwk", "32"), ("kek.jwk", "16")] {
        let out = dtn(&["bpsec", "key", "--out", &path(name), "--bytes", bytes], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let run = |args: &[&str], input: &[u8]| {
        let out = dtn(args, Some(input));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out.stdout
    };
    let plain =
        run(&["bundle", "encode", "--source", "ipn:2.1", "--dest", "ipn:1.2", "--payload", "slew to 41.2"], b"");
    let signed = run(&["bundle", "sign", "--key", &path("mac.jwk"), "--target", "0", "--target", "1"], &plain);
    let sealed = run(&["bundle", "encrypt", "--key", &path("kek.jwk"), "--wrap", "--aes", "128"], &signed);
    let shown = text(&run(&["bundle", "decode", "--json"], &sealed));
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let blocks = v["blocks"].as_array().unwrap();
    // The BIB and the payload in a BCB each, each under its own IV (one IV for two blocks
    // under one key would reuse a GCM nonce).
    let bcbs: Vec<&serde_json::Value> = blocks.iter().filter(|b| b["type"] == 12).collect();
    assert_eq!(bcbs.len(), 2, "{shown}");
    for bcb in &bcbs {
        assert_eq!(bcb["value"]["context_name"], "BCB-AES-GCM", "{shown}");
        assert_eq!(bcb["value"]["targets"].as_array().unwrap().len(), 1, "{shown}");
    }
    assert_ne!(bcbs[0]["value"]["parameters"][0], bcbs[1]["value"]["parameters"][0], "one IV twice: {shown}");
    assert_eq!(blocks.iter().find(|b| b["type"] == 11).unwrap()["value"]["encrypted"], true, "{shown}");
    assert!(!shown.contains("slew to"), "plaintext in {shown}");
    assert!(v["security"].as_str().unwrap().contains("keep RFC 9172's rules"), "{shown}");

    let opened = run(&["bundle", "decrypt", "--key", &path("kek.jwk")], &sealed);
    let accepted = run(&["bundle", "verify", "--key", &path("mac.jwk"), "--strip"], &opened);
    let shown = text(&run(&["bundle", "decode"], &accepted));
    assert!(shown.contains("slew to 41.2") && !shown.contains("bib"), "{shown}");

    // The wrong key: exit status 1 and the reason.
    let out = dtn(&["bundle", "verify", "--key", &path("kek.jwk")], Some(&signed));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("reason 15") && text(&out.stderr).contains("MAC does not verify"),
        "{}",
        text(&out.stderr)
    );
    let out = dtn(&["bundle", "decrypt", "--key", &path("mac.jwk")], Some(&sealed));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The COSE context from the tools: an Ed25519 key pair (the public half for the verifier),
/// a symmetric AES-GCM key; the public key verifies, another one fails with reason 15.
#[test]
fn cose_keys_sign_with_the_private_half_and_verify_with_the_public_one() {
    let dir = std::env::temp_dir().join(format!("dtn-cli-cose-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).display().to_string();
    let run = |args: &[&str], input: &[u8]| {
        let out = dtn(args, Some(input));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out.stdout
    };
    for (alg, name, public) in
        [("ed25519", "ground", Some("ground.pub")), ("ed25519", "other", Some("other.pub")), ("a256gcm", "cek", None)]
    {
        let mut args = vec!["bpsec", "key", "--cose", alg, "--out"];
        let out = path(name);
        args.push(&out);
        let public_path = public.map(path);
        if let Some(p) = &public_path {
            args.extend(["--public", p.as_str()]);
        }
        run(&args, b"");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(path("ground")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(path("ground.pub")).unwrap().permissions().mode() & 0o777, 0o644);
    let plain =
        run(&["bundle", "encode", "--source", "ipn:2.1", "--dest", "ipn:4.7", "--payload", "open valve 3"], b"");
    let signed = run(&["bundle", "sign", "--key", &path("ground")], &plain);
    let sealed = run(&["bundle", "encrypt", "--key", &path("cek")], &signed);
    let shown = text(&run(&["bundle", "decode", "--json"], &sealed));
    assert!(shown.contains("\"context_name\":\"COSE\"") && !shown.contains("open valve"), "{shown}");
    assert!(shown.contains("\"message\":\"COSE_Sign1\"") || shown.contains("\"encrypted\":true"), "{shown}");
    assert!(shown.contains("\"message\":\"COSE_Encrypt0\"") && shown.contains("\"kid\":\"cek\""), "{shown}");
    let signed_shown = text(&run(&["bundle", "decode", "--json"], &signed));
    assert!(
        signed_shown.contains("\"message\":\"COSE_Sign1\",") && signed_shown.contains("\"alg\":-19"),
        "{signed_shown}"
    );
    let opened = run(&["bundle", "decrypt", "--key", &path("cek")], &sealed);
    // The public half verifies (a public key file may be world-readable).
    let verified = dtn(&["bundle", "verify", "--key", &path("ground.pub"), "--strip"], Some(&opened));
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(text(&run(&["bundle", "decode"], &verified.stdout)).contains("open valve 3"));
    // Another key pair's public half does not; nor can a public key sign.
    let out = dtn(&["bundle", "verify", "--key", &path("other.pub")], Some(&opened));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("reason 15") && text(&out.stderr).contains("signature"),
        "{}",
        text(&out.stderr)
    );
    let out = dtn(&["bundle", "sign", "--key", &path("ground.pub")], Some(&plain));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
