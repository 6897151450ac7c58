//! Two gateway processes forwarding over QUIC (draft-ek-dtn-qubicle): certificates made with
//! `dtn cert`,
//! bundles from a TCPCLv4 load tool through A → (QUIC) → B and back; a peer whose certificate
//! names another node than configured is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Gateway, Scratch, counter, eventually, issue, load_through};

fn quic(name: &str) -> String {
    format!("[quic]\nlisten = [\"127.0.0.1:0\"]\ncert = \"{name}.pem\"\nkey = \"{name}.key\"\nca = \"ca.pem\"\n")
}

#[test]
fn two_gateways_forward_over_quic_and_refuse_a_wrong_node() {
    let dir = Scratch::new("quic");
    issue(&dir.0, "a", "ipn:1.0");
    issue(&dir.0, "b", "ipn:2.0");
    issue(&dir.0, "d", "ipn:3.0");
    let b = Gateway::start(
        &dir.0,
        "b",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n{}",
            quic("b")
        ),
    );
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n{}\
             [[peer]]\nnode = 2\ncla = \"quic\"\naddress = \"{}\"\n[[route]]\ndest = 4000000\nvia = 2\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n",
            quic("a"),
            b.quic[0]
        ),
    );
    assert!(
        eventually(Duration::from_secs(20), || a.get("/links").contains("\"cla\":\"quic\"")),
        "{}",
        a.get("/links")
    );
    // 2,000 bundles of 1 KiB and 20 of 1 MiB, A to B: all arrive.
    load_through(&a, &b);

    // D's certificate names node 3; E expects node 2 there and refuses it.
    let d = Gateway::start(
        &dir.0,
        "d",
        &format!("[node]\nid = 3\n[storage]\npath = \"d.store\"\nbudget = \"16 MiB\"\n{}", quic("d")),
    );
    let e = Gateway::start(
        &dir.0,
        "e",
        &format!(
            "[node]\nid = 5\n[storage]\npath = \"e.store\"\nbudget = \"16 MiB\"\n{}\
             [[peer]]\nnode = 2\ncla = \"quic\"\naddress = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            quic("a"),
            d.quic[0]
        ),
    );
    assert!(eventually(Duration::from_secs(20), || counter(&e, "session_failures") > 0), "E never tried");
    assert!(!e.get("/links").contains("\"peer\""), "{}", e.get("/links"));
    drop((d, e));
    assert!(a.terminate(Duration::from_secs(15)).success());
    assert!(b.terminate(Duration::from_secs(15)).success());
}
