//! `dtn cert`: private keys readable by their owner only, nothing replaced without `--force`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Scratch, dtn};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keys_are_private_and_nothing_is_replaced_without_force() {
    let dir = Scratch::new("cli-cert");
    let run = |args: &[&str]| dtn().current_dir(&dir.0).args(args).output().unwrap();
    assert!(run(&["cert", "ca", "--out", "ca"]).status.success());
    assert_eq!(mode(&dir.path("ca.key")), 0o600, "the CA's private key");
    assert_eq!(mode(&dir.path("ca.pem")), 0o644);
    let ca_key = std::fs::read(dir.path("ca.key")).unwrap();
    // A second CA over the first would orphan every certificate it issued.
    let again = run(&["cert", "ca", "--out", "ca"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read(dir.path("ca.key")).unwrap(), ca_key, "the CA's key is untouched");

    let issue = ["cert", "issue", "--ca", "ca", "--node", "ipn:2.0", "--node", "ipn:2.5", "--out", "node"];
    assert!(run(&issue).status.success());
    assert_eq!(mode(&dir.path("node.key")), 0o600);
    assert!(!run(&issue).status.success(), "an existing key is kept");
    // A key left world-readable by hand is replaced by a private one.
    std::fs::set_permissions(dir.path("node.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let forced: Vec<&str> = issue.iter().copied().chain(["--force"]).collect();
    assert!(run(&forced).status.success());
    assert_eq!(mode(&dir.path("node.key")), 0o600);
    let setup = gateway::tcpcl::TlsSetup::from_pem_files(
        &dir.path("node.pem"),
        &dir.path("node.key"),
        &dir.path("ca.pem"),
        gateway::tcpcl::NodeIdPolicy::Require,
    )
    .unwrap();
    assert_eq!(gateway::tcpcl::tls::uri_sans(&setup.chain[0]), ["ipn:2.0", "ipn:2.5"]);
}
