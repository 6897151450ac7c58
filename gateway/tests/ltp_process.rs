//! Two gateway processes over LTP (UDP): on loopback, and across `link-sim proxy --udp` as a
//! space link with light time and loss, custody on; a file sent with `dtn send` arrives
//! intact.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{Gateway, Scratch, dtn, eventually, issue, load_through};

/// A free UDP port on loopback (bound and let go: the gateway or proxy binds it next).
fn free_udp() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn ltp_section(listen: SocketAddr, extra: &str) -> String {
    format!("[ltp]\nlisten = [\"{listen}\"]\nmtu = 8000\nmargin_ms = 100\n{extra}")
}

#[test]
fn two_gateways_forward_over_ltp_on_loopback() {
    let dir = Scratch::new("ltp-loop");
    let (a_ltp, b_ltp) = (free_udp(), free_udp());
    let b = Gateway::start(
        &dir.0,
        "b",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n{}\
             [[peer]]\nnode = 1\ncla = \"ltp\"\naddress = \"{a_ltp}\"\n[[route]]\ndest = 4000001\nvia = 1\n",
            ltp_section(b_ltp, "")
        ),
    );
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n{}\
             [[peer]]\nnode = 2\ncla = \"ltp\"\naddress = \"{b_ltp}\"\n[[route]]\ndest = 4000000\nvia = 2\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n",
            ltp_section(a_ltp, "")
        ),
    );
    assert_eq!(a.ltp, [a_ltp]);
    assert!(eventually(Duration::from_secs(20), || a.get("/links").contains("\"cla\":\"ltp\"")), "{}", a.get("/links"));
    // 2,000 bundles of 1 KiB and 20 of 1 MiB, A to B: all arrive.
    load_through(&a, &b);
    drop(b);
}

/// A space link between a relay (node 3) and the ground (node 2) at 50 MB/s both ways, with
/// `owlt_ms` of light time, in `plan.csv`, and `link-sim proxy --udp` as its radio, losing
/// `loss` of the datagrams each way. The relay sends to `proxy_listen`; the ground sees the
/// relay at `proxy_source`.
struct SpaceLink {
    relay_ltp: SocketAddr,
    ground_ltp: SocketAddr,
    proxy_listen: SocketAddr,
    proxy_source: SocketAddr,
    proxy: link_sim::proxy::Proxy,
    _runtime: tokio::runtime::Runtime,
}

impl SpaceLink {
    fn start(dir: &Scratch, owlt_ms: u64, loss: f64) -> SpaceLink {
        let plan = format!(
            "from,to,start,end,rate_Bps,owlt_min_ms,owlt_max_ms,kind,start_exact,end_exact\n\
             3,2,0,86400,50000000,{owlt_ms},{owlt_ms},space,0.000,86400.000\n\
             2,3,0,86400,50000000,{owlt_ms},{owlt_ms},space,0.000,86400.000\n"
        );
        std::fs::write(dir.path("plan.csv"), &plan).unwrap();
        let (relay_ltp, ground_ltp, proxy_listen, proxy_source) = (free_udp(), free_udp(), free_udp(), free_udp());
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let windows = link_sim::model::link::windows_from_csv(&plan).unwrap();
        let mut config = link_sim::proxy::ProxyConfig::for_link(&windows, 3, 2, proxy_listen, ground_ltp).unwrap();
        config.udp = true;
        config.udp_source = Some(proxy_source);
        config.impairments.loss = link_sim::model::loss::FrameLoss::new(0.0, loss).unwrap();
        config.impairments.varying_light_time = false;
        let proxy = runtime.block_on(link_sim::proxy::Proxy::start(config)).unwrap();
        SpaceLink { relay_ltp, ground_ltp, proxy_listen, proxy_source, proxy, _runtime: runtime }
    }
}

/// A file sent with `dtn send` at a relay (node 3) crosses a space link to the ground (node
/// 2) over LTP through `link-sim proxy --udp`: `owlt_ms` each way, 1 % datagram loss both
/// ways, 50 MB/s, custody on. Both gateways take rate and light time from the same plan.
fn space_link(name: &str, owlt_ms: u64, size: usize) {
    let dir = Scratch::new(name);
    issue(&dir.0, "relay", "ipn:3.0");
    issue(&dir.0, "client", "ipn:3.5");
    let SpaceLink { relay_ltp, ground_ltp, proxy_listen, proxy_source, proxy, _runtime } =
        SpaceLink::start(&dir, owlt_ms, 0.01);
    let common = |node: u64, ltp: SocketAddr, peer: u64, peer_addr: SocketAddr| {
        format!(
            "[node]\nid = {node}\n[storage]\npath = \"{node}.store\"\nbudget = \"1 GiB\"\n[plans]\nfiles = [\"plan.csv\"]\n\
             [custody]\nenabled = true\n{}\
             [[peer]]\nnode = {peer}\ncla = \"ltp\"\naddress = \"{peer_addr}\"\ncustody = true\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n",
            ltp_section(ltp, "max_block = \"128 MiB\"\nspan_import_memory = \"256 MiB\"\n")
        )
    };
    let ground = Gateway::start(
        &dir.0,
        "ground",
        &format!(
            "{}[[endpoint]]\neid = \"ipn:2.7\"\ndeliver = \"dir\"\ndir = \"inbox\"\n",
            common(2, ground_ltp, 3, proxy_source)
        ),
    );
    let relay = Gateway::start(
        &dir.0,
        "relay",
        &format!(
            "{}[app]\nlisten = [\"127.0.0.1:0\"]\ncert = \"relay.pem\"\nkey = \"relay.key\"\nca = \"ca.pem\"\n",
            common(3, relay_ltp, 2, proxy_listen)
        ),
    );
    let payload: Vec<u8> = (0..size as u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path("file.bin"), &payload).unwrap();
    let started = std::time::Instant::now();
    send(&dir, &relay, &dir.path("file.bin"), "ipn:2.7");
    let accepted = started.elapsed();
    let inbox = dir.path("inbox");
    let arrived = || std::fs::read_dir(&inbox).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path());
    assert!(
        eventually(Duration::from_secs(240), || arrived()
            .is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == size as u64))),
        "the file did not arrive; relay links: {}",
        relay.get("/links")
    );
    let took = started.elapsed();
    assert_eq!(std::fs::read(arrived().unwrap()).unwrap(), payload, "the file arrived changed");
    // Custody: the relay lets go of the bundle once the ground has taken custody.
    assert!(
        eventually(Duration::from_secs(60), || !relay.get("/bundles").contains("\"destination_node\":2")),
        "the relay still holds the bundle: {}",
        relay.get("/bundles")
    );
    let stats = proxy.stats();
    assert!(stats.forward.lost > 0, "1 % loss lost nothing: {stats:?}");
    // Not faster than light: one trip at least.
    assert!(took >= Duration::from_millis(owlt_ms), "arrived in {took:?}");
    eprintln!(
        "{size} bytes across {owlt_ms} ms light time: accepted after {accepted:?}, arrived after {took:?}; proxy {stats:?}"
    );
    drop(ground);
}

/// `dtn send FILE --to TO` through the gateway's application bridge, as the test's client.
fn send(dir: &Scratch, gateway: &Gateway, file: &std::path::Path, to: &str) {
    let sent = dtn()
        .arg("send")
        .arg(file)
        .args(["--to", to, "--gateway", &gateway.app[0].to_string()])
        .arg("--cert")
        .arg(dir.path("client.pem"))
        .arg("--key")
        .arg(dir.path("client.key"))
        .arg("--ca")
        .arg(dir.path("ca.pem"))
        .output()
        .unwrap();
    assert!(sent.status.success(), "dtn send: {}", String::from_utf8_lossy(&sent.stderr));
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// `[ltp] green`: bundles for `ipn:*.9` go as green data across a link losing 20 % of its
/// datagrams: some are lost and stay lost (green is never retransmitted), and the sender
/// counts them sent; the red ones beside them all arrive.
#[test]
fn green_bundles_are_best_effort_and_red_ones_beside_them_arrive() {
    let dir = Scratch::new("ltp-green");
    issue(&dir.0, "relay", "ipn:3.0");
    issue(&dir.0, "client", "ipn:3.5");
    // Bound whole: the proxy lives as long as `link`.
    let link = SpaceLink::start(&dir, 20, 0.2);
    let (relay_ltp, ground_ltp, proxy_listen, proxy_source) =
        (link.relay_ltp, link.ground_ltp, link.proxy_listen, link.proxy_source);
    let common = |node: u64, ltp: SocketAddr, peer: u64, peer_addr: SocketAddr, extra: &str| {
        format!(
            "[node]\nid = {node}\n[storage]\npath = \"{node}.store\"\nbudget = \"256 MiB\"\n[plans]\nfiles = [\"plan.csv\"]\n{}\
             [[peer]]\nnode = {peer}\ncla = \"ltp\"\naddress = \"{peer_addr}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            ltp_section(ltp, extra)
        )
    };
    let _ground = Gateway::start(
        &dir.0,
        "ground",
        &format!(
            "{}[[endpoint]]\neid = \"ipn:2.7\"\ndeliver = \"dir\"\ndir = \"red\"\n\
             [[endpoint]]\neid = \"ipn:2.9\"\ndeliver = \"dir\"\ndir = \"green\"\n",
            common(2, ground_ltp, 3, proxy_source, "")
        ),
    );
    let relay = Gateway::start(
        &dir.0,
        "relay",
        &format!(
            "{}[app]\nlisten = [\"127.0.0.1:0\"]\ncert = \"relay.pem\"\nkey = \"relay.key\"\nca = \"ca.pem\"\n",
            common(3, relay_ltp, 2, proxy_listen, "aggregation_ms = 0\ngreen = [\"ipn:*.9\"]\n")
        ),
    );
    const EACH: usize = 40;
    for i in 0..EACH {
        // 4 KB: one segment, one block each.
        let file = dir.path(&format!("f{i}.bin"));
        std::fs::write(&file, vec![i as u8; 4000]).unwrap();
        send(&dir, &relay, &file, "ipn:2.9");
        send(&dir, &relay, &file, "ipn:2.7");
    }
    let (red, green) = (dir.path("red"), dir.path("green"));
    assert!(
        eventually(Duration::from_secs(60), || files_in(&red) == EACH),
        "{} of {EACH} red bundles arrived; relay links: {}",
        files_in(&red),
        relay.get("/links")
    );
    // The relay holds nothing: the green bundles were judged sent, lost or not.
    assert!(
        eventually(Duration::from_secs(20), || !relay.get("/bundles").contains("\"destination_node\":2")),
        "the relay still holds bundles: {}",
        relay.get("/bundles")
    );
    // Time for any retransmission (there must be none): many round trips of 40 ms.
    std::thread::sleep(Duration::from_secs(2));
    let arrived = files_in(&green);
    // 20 % loss: 40 all arriving has a chance of 1 in 7,500.
    assert!((1..EACH).contains(&arrived), "{arrived} of {EACH} green bundles arrived");
}

#[test]
fn a_file_crosses_a_geo_relay_link_over_ltp_with_light_time_and_loss() {
    space_link("ltp-geo", 129, 100 << 20);
}

#[test]
fn a_file_crosses_a_lunar_relay_link_over_ltp_with_light_time_and_loss() {
    space_link("ltp-lunar", 1300, 100 << 20);
}
