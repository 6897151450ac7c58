//! BPSec through two gateway processes over TCPCLv4, a policy on both: A signs and encrypts
//! the payload of every bundle it forwards towards node 4,000,000 (a waypoint as security
//! source); B verifies, decrypts and strips both before handing them on. With the right keys
//! every bundle arrives as sent; with a wrong one at B none does, each counted as a failed
//! security operation. A key file others can read, and rule errors, are refused with their
//! line and column.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use gateway::daemon::bpsec_config::write_jwk;
use gateway::loadgen::{self, LoadSpec};
use support::{Gateway, Scratch, dtn, eventually};

const MAC: [u8; 32] = [0x5a; 32];
const KEK: [u8; 16] = [0x77; 16];

fn keys(dir: &Path, mac: &[u8], kek: &[u8]) {
    write_jwk(&dir.join("mac.jwk"), "mac", mac).unwrap();
    write_jwk(&dir.join("kek.jwk"), "kek", kek).unwrap();
}

fn policy(role: &str) -> String {
    let rule = |service: &str, context: &str, key: &str| {
        format!(
            "[[bpsec.rule]]\nrole = \"{role}\"\nservice = \"{service}\"\nbundles = \"data\"\n\
             destination = \"ipn:4000000.*\"\ncontext = \"{context}\"\nkeys = [\"{key}\"]\nwrap = true\n\
             on_failure = \"drop\"\n"
        )
    };
    format!(
        "[bpsec]\nkeys = [{{ id = \"mac\", file = \"mac.jwk\" }}, {{ id = \"kek\", file = \"kek.jwk\" }}]\n{}{}",
        rule("integrity", "hmac-sha384", "mac"),
        rule("confidentiality", "aes256-gcm", "kek")
    )
}

fn pair(dir: &Scratch, b_keys: (&[u8], &[u8])) -> (Gateway, Gateway) {
    let bdir = dir.path("b");
    std::fs::create_dir_all(&bdir).unwrap();
    keys(&bdir, b_keys.0, b_keys.1);
    let b = Gateway::start(
        &bdir,
        "b",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\n\
             listen = [\"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n{}",
            policy("acceptor")
        ),
    );
    let adir = dir.path("a");
    std::fs::create_dir_all(&adir).unwrap();
    keys(&adir, &MAC, &KEK);
    let a = Gateway::start(
        &adir,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\n\
             listen = [\"127.0.0.1:0\"]\n[[peer]]\nnode = 2\ncla = \"tcpcl\"\naddress = \"{}\"\n[[route]]\ndest = 4000000\n\
             via = 2\n[admin]\nlisten = \"127.0.0.1:0\"\n{}",
            b.tcpcl[0],
            policy("source")
        ),
    );
    assert!(eventually(Duration::from_secs(20), || a.get("/links").contains("\"peer\":2")), "{}", a.get("/links"));
    (a, b)
}

fn load(a: &Gateway, b: &Gateway, count: u64, size: usize, timeout: Duration) -> loadgen::LoadReport {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let spec = LoadSpec {
        to: a.tcpcl[0],
        back: Some(b.tcpcl[0]),
        node: 4_000_000,
        destination: None,
        size,
        count,
        window: 200,
        tls: None,
        timeout,
        expect_return: true,
    };
    runtime.block_on(loadgen::run(spec)).unwrap()
}

fn failures(gw: &Gateway, reason: &str) -> u64 {
    let metrics = gw.get("/metrics");
    let prefix = format!("dtn_security_failures_total{{node=\"2\",reason=\"{reason}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse().unwrap())
}

#[test]
fn a_policy_on_both_gateways_protects_every_bundle_between_them() {
    let dir = Scratch::new("bpsec");
    let (a, b) = pair(&dir, (&MAC, &KEK));
    // Every payload crossed A→B encrypted and signed; B opened and checked it (a payload
    // still encrypted would not be recognised by the load tool).
    for (size, count) in [(1024usize, 300u64), (256 << 10, 10)] {
        let report = load(&a, &b, count, size, Duration::from_secs(60));
        assert_eq!(report.received, count, "{report}");
    }
    assert_eq!(failures(&b, "failed"), 0);
    drop((a, b));

    // B with a different key-encryption key opens nothing: every bundle is dropped and counted.
    let dir = Scratch::new("bpsec-wrong");
    let (a, b) = pair(&dir, (&MAC, &[0x78; 16]));
    let report = load(&a, &b, 20, 1024, Duration::from_secs(5));
    assert_eq!(report.received, 0, "{report}");
    assert!(eventually(Duration::from_secs(10), || failures(&b, "failed") == 20), "{}", b.get("/metrics"));
}

#[test]
fn key_files_others_can_read_and_bad_rules_are_refused_with_their_place() {
    let dir = Scratch::new("bpsec-config");
    keys(&dir.0, &MAC, &KEK);
    let head = "[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = 1000\n";
    let keys_line = "[bpsec]\nkeys = [{ id = \"mac\", file = \"mac.jwk\" }]\n";
    let check = |text: String| {
        let path = dir.path("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = dtn().args(["gateway", "check-config", "--config"]).arg(&path).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let cases = [
        (
            format!("{keys_line}[[bpsec.rule]]\nrole = \"signer\"\nservice = \"integrity\"\nkeys = [\"mac\"]\n"),
            ":9:8",
            "role",
        ),
        (
            format!("{keys_line}[[bpsec.rule]]\nrole = \"source\"\nservice = \"integrity\"\nkeys = [\"nope\"]\n"),
            ":11:",
            "not in [bpsec] keys",
        ),
        (
            format!(
                "{keys_line}[[bpsec.rule]]\nrole = \"source\"\nservice = \"integrity\"\nsource = \"ipn:2.x\"\nkeys = [\"mac\"]\n"
            ),
            ":11:",
            "invalid EID pattern",
        ),
        (
            format!(
                "{keys_line}[[bpsec.rule]]\nrole = \"acceptor\"\nservice = \"confidentiality\"\nblocks = [\"primary\"]\nkeys = [\"mac\"]\n"
            ),
            ":11:",
            "never covers the primary block",
        ),
        (
            format!(
                "{keys_line}[[bpsec.rule]]\nrole = \"source\"\nservice = \"integrity\"\ncontext = \"aes256-gcm\"\nkeys = [\"mac\"]\n"
            ),
            ":11:",
            "not for integrity",
        ),
    ];
    for (text, place, words) in cases {
        let (ok, err) = check(format!("{head}{text}"));
        assert!(!ok && err.contains(place) && err.contains(words), "expected {place} and {words:?} in {err:?}");
    }
    // COSE: a key pair signs, its public half (readable by all) verifies; a source holding
    // only the public half, or a JWK in a COSE rule, is refused.
    let made = dtn()
        .args(["bpsec", "key", "--cose", "ed25519", "--out"])
        .arg(dir.path("g.cose"))
        .arg("--public")
        .arg(dir.path("g.pub"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let cose_keys = "[bpsec]\nkeys = [{ id = \"g\", file = \"g.cose\" }, { id = \"p\", file = \"g.pub\" }, \
                     { id = \"mac\", file = \"mac.jwk\" }]\n";
    let rule = |role: &str, key: &str| {
        format!(
            "[[bpsec.rule]]\nrole = \"{role}\"\nservice = \"integrity\"\ncontext = \"cose-ed25519\"\nkeys = [\"{key}\"]\n"
        )
    };
    let (ok, err) = check(format!("{head}{cose_keys}{}{}", rule("source", "g"), rule("acceptor", "p")));
    assert!(ok, "{err}");
    let (ok, err) = check(format!("{head}{cose_keys}{}", rule("source", "p")));
    assert!(!ok && err.contains("needs the private key"), "{err}");
    let (ok, err) = check(format!("{head}{cose_keys}{}", rule("acceptor", "mac")));
    assert!(!ok && err.contains("COSE contexts take COSE_Key files"), "{err}");
    let (ok, err) = check(format!("{head}{keys_line}"));
    assert!(ok, "{err}");
    // `dtn bpsec key` writes one the config takes, for the owner alone.
    let made = dir.path("made.jwk");
    assert!(dtn().args(["bpsec", "key", "--out"]).arg(&made).output().unwrap().status.success());
    assert_eq!(std::fs::metadata(&made).unwrap().permissions().mode() & 0o777, 0o600);
    let (ok, err) = check(format!("{head}[bpsec]\nkeys = [{{ id = \"made\", file = \"made.jwk\" }}]\n"));
    assert!(ok, "{err}");
    assert!(!dtn().args(["bpsec", "key", "--out"]).arg(&made).output().unwrap().status.success(), "overwrote a key");
    // A key file the group can read is refused, and the message holds no key material.
    std::fs::set_permissions(dir.path("mac.jwk"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let (ok, err) = check(format!("{head}{keys_line}"));
    assert!(!ok && err.contains(":7:") && err.contains("readable by others (mode 640)"), "{err}");
    assert!(!err.contains("Wlpa"), "key material in {err:?}");
}
