//! The application bridge end to end, with real gateway processes: a ground application
//! pings an echo service two hops away (ground gateway → relay → orbital-node gateway) and
//! gets the answer; deliveries survive a client that disconnects before acknowledging; a
//! client may act only for the endpoints its certificate names, and one without a trusted
//! certificate gets nowhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway::app::client::{AppClient, Outgoing};
use support::{Gateway, Scratch, app_ground, app_section, issue, issue_naming, tls};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A ground gateway (node 2) with the bridge (`extra` in its `[app]` section), a client
/// certificate for `ipn:2.5`, and a runtime to drive clients.
fn ground_with_client(name: &str, extra: &str) -> (Scratch, Gateway, tokio::runtime::Runtime) {
    let dir = Scratch::new(name);
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    let ground = app_ground(&dir.0, "64 MiB", extra);
    (dir, ground, runtime())
}

/// A `[quic]` section with the certificate `dir/name`.
fn quic_section(name: &str) -> String {
    format!("[quic]\nlisten = [\"127.0.0.1:0\"]\ncert = \"{name}.pem\"\nkey = \"{name}.key\"\nca = \"ca.pem\"\n")
}

/// The orbital compute node (4): `ipn:4.7` answers by echo, or (`app`) belongs to an
/// application connected over the node's own bridge. The relay dials it without TLS, and it
/// answers over that session: it trusts what the session claims (a loopback lab).
fn orbital(dir: &Path, app: bool) -> Gateway {
    let answer = if app {
        issue(dir, "orbital", "ipn:4.0");
        "[app]\nlisten = [\"127.0.0.1:0\"]\ncert = \"orbital.pem\"\nkey = \"orbital.key\"\nca = \"ca.pem\"\n"
            .to_string()
    } else {
        "[[endpoint]]\neid = \"ipn:4.7\"\ndeliver = \"echo\"\n".to_string()
    };
    Gateway::start(
        dir,
        "orbital",
        &format!(
            "[node]\nid = 4\n[storage]\npath = \"o.store\"\nbudget = \"64 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
             keepalive_s = 5\nunauthenticated = \"trusted\"\n{answer}[[route]]\ndest = \"default\"\nvia = 3\n"
        ),
    )
}

/// The relay (3), dialling the orbital node at `orbital` over TCPCL; it also takes QUIC. The
/// ground dials it over TCPCL without TLS in one test: it trusts the session's claim (lab).
fn relay(dir: &Path, orbital: std::net::SocketAddr) -> Gateway {
    issue(dir, "relay", "ipn:3.0");
    Gateway::start(
        dir,
        "relay",
        &format!(
            "[node]\nid = 3\n[storage]\npath = \"r.store\"\nbudget = \"64 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
             keepalive_s = 5\nunauthenticated = \"trusted\"\n{}[[peer]]\nnode = 4\ncla = \"tcpcl\"\naddress = \"{orbital}\"\n",
            quic_section("relay")
        ),
    )
}

/// The ground gateway (2) with the application bridge, dialling the relay over `cla`.
fn ground(dir: &Path, cla: &str, relay: std::net::SocketAddr) -> Gateway {
    Gateway::start(
        dir,
        "ground",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"64 MiB\"\n{}{}\
             [[peer]]\nnode = 3\ncla = \"{cla}\"\naddress = \"{relay}\"\n[[route]]\ndest = 4\nvia = 3\n",
            app_section(),
            quic_section("ground")
        ),
    )
}

/// The orbital node's application: answers each question on `ipn:4.7` to its sender.
async fn answering_application(orbital: std::net::SocketAddr, me: gateway::tcpcl::TlsSetup) {
    let app = AppClient::connect(orbital, &me).await.unwrap();
    app.register("ipn:4.7").await.unwrap();
    while let Some(question) = app.next_delivery(1 << 20).await {
        let mut answer = b"answer to ".to_vec();
        answer.extend_from_slice(&question.payload);
        let reply = Outgoing { lifetime_ms: 60_000, ..Outgoing::new("ipn:4.7", &question.source) };
        assert_eq!(app.submit(&reply, Bytes::from(answer)).await.unwrap().status, 0);
        question.acknowledge().await.unwrap();
    }
}

#[test]
fn an_application_reaches_an_orbital_node_and_back() {
    // Ground application -> ground gateway -(QUIC)-> relay -(TCPCLv4)-> orbital node, whose
    // application (a bridge client there) answers; the answer comes back the same way.
    let dir = Scratch::new("app-e2e");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    issue(&dir.0, "orbital-app", "ipn:4.7");
    let orbital = orbital(&dir.0, true);
    let relay = relay(&dir.0, orbital.tcpcl[0]);
    let ground = ground(&dir.0, "quic", relay.quic[0]);
    let rt = runtime();
    rt.spawn(answering_application(orbital.app[0], tls(&dir.0, "orbital-app", "ca")));
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        client.register("ipn:2.5").await.unwrap();
        for i in 0..5u32 {
            let question = format!("telemetry request {i}");
            let done = client
                .submit(
                    &Outgoing { lifetime_ms: 60_000, ..Outgoing::new("ipn:2.5", "ipn:4.7") },
                    question.clone().into(),
                )
                .await
                .unwrap();
            assert_eq!(done.status, 0);
            let answer = tokio::time::timeout(Duration::from_secs(20), client.next_delivery(1 << 20))
                .await
                .expect("no answer within 20 s")
                .unwrap();
            assert_eq!(
                (answer.source.as_str(), &answer.payload[..]),
                ("ipn:4.7", format!("answer to {question}").as_bytes())
            );
            answer.acknowledge().await.unwrap();
        }
    });
}

#[test]
fn deliveries_survive_a_client_that_leaves_before_acknowledging() {
    let (dir, ground, rt) = ground_with_client("app-resume", "");
    rt.block_on(async {
        let me = tls(&dir.0, "client", "ca");
        // Five ADUs for ipn:2.5 wait at the gateway.
        let sender = AppClient::connect(ground.app[0], &me).await.unwrap();
        for i in 0..5u32 {
            let done = sender
                .submit(
                    &Outgoing { lifetime_ms: 60_000, ..Outgoing::new("ipn:2.5", "ipn:2.5") },
                    Bytes::from(format!("adu {i}")),
                )
                .await
                .unwrap();
            assert_eq!(done.status, 0);
        }
        // A receiver takes the first and goes away without acknowledging it.
        let first = AppClient::connect(ground.app[0], &me).await.unwrap();
        first.register("ipn:2.5").await.unwrap();
        let unacked = first.next_delivery(1 << 20).await.unwrap();
        let lost_key = (unacked.source.clone(), unacked.creation);
        drop(unacked);
        first.close();
        // The next one gets all five, each once.
        let second = AppClient::connect(ground.app[0], &me).await.unwrap();
        second.register("ipn:2.5").await.unwrap();
        let mut seen = BTreeSet::new();
        while seen.len() < 5 {
            let d = tokio::time::timeout(Duration::from_secs(20), second.next_delivery(1 << 20))
                .await
                .expect("deliveries stopped")
                .unwrap();
            assert!(seen.insert((d.source.clone(), d.creation)), "delivered twice: {:?}", d.creation);
            d.acknowledge().await.unwrap();
        }
        assert!(seen.contains(&lost_key), "the unacknowledged delivery was lost");
        // Nothing more comes.
        assert!(tokio::time::timeout(Duration::from_millis(700), second.next_delivery(1 << 20)).await.is_err());
    });
}

#[test]
fn clients_act_only_for_what_their_certificate_names() {
    let dir = Scratch::new("app-auth");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    // A certificate from another CA.
    let other = dir.0.join("other");
    std::fs::create_dir_all(&other).unwrap();
    issue(&other, "stranger", "ipn:2.5");
    let ground = app_ground(&dir.0, "64 MiB", "");
    let rt = runtime();
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        let err = client.register("ipn:2.6").await.unwrap_err();
        assert!(err.contains("does not name it"), "{err}");
        let refused = client
            .submit(&Outgoing { lifetime_ms: 60_000, ..Outgoing::new("ipn:2.6", "ipn:2.5") }, Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_ne!(refused.status, 0, "a source the certificate does not name was accepted");
        // The stranger's chain is not trusted: no connection (or none that works).
        let mut stranger = tls(&other, "stranger", "ca");
        stranger.roots = tls(&dir.0, "client", "ca").roots;
        match AppClient::connect(ground.app[0], &stranger).await {
            Err(_) => {}
            Ok(c) => assert!(c.register("ipn:2.5").await.is_err(), "an untrusted client registered"),
        }
    });
}

#[test]
fn a_client_over_its_limit_is_slowed_not_dropped_and_others_go_on() {
    let dir = Scratch::new("app-limits");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "flooder", "ipn:2.5");
    issue(&dir.0, "client", "ipn:2.6");
    let ground = app_ground(&dir.0, "64 MiB", "submits_per_sec = 20\nin_flight = 8\n");
    let rt = runtime();
    rt.block_on(async {
        let flooder = Arc::new(AppClient::connect(ground.app[0], &tls(&dir.0, "flooder", "ca")).await.unwrap());
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..40u32 {
            let f = flooder.clone();
            tasks.push(tokio::spawn(async move {
                f.submit(
                    &Outgoing { lifetime_ms: 60_000, ..Outgoing::new("ipn:2.5", "ipn:9.1") },
                    Bytes::from(format!("flood {i}")),
                )
                .await
            }));
        }
        // Meanwhile another client's submissions go through at once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let other = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        for _ in 0..2 {
            let t = std::time::Instant::now();
            let done = other
                .submit(
                    &Outgoing { lifetime_ms: 60_000, ..Outgoing::new("ipn:2.6", "ipn:9.1") },
                    Bytes::from_static(b"hello"),
                )
                .await
                .unwrap();
            assert_eq!(done.status, 0);
            assert!(t.elapsed() < Duration::from_millis(500), "the other client waited {:?}", t.elapsed());
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().status, 0, "a flooding submission was refused or dropped");
        }
        let took = started.elapsed();
        // 40 at 20 per second (a burst of 2): about two seconds.
        assert!(took >= Duration::from_millis(1500), "40 submissions at 20/s took only {took:?}");
    });
}

#[test]
fn an_application_reaches_an_orbital_node_across_a_space_link() {
    let dir = Scratch::new("app-space");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    let orbital = orbital(&dir.0, false);
    let rt = runtime();
    // The relay's link to the orbital node: contacts both ways from plan time 2 s, one second
    // of light time each way, 10 MB/s.
    let plan = "a contact +2 +3600 3 4 10000000\na contact +2 +3600 4 3 10000000\na range +0 +3600 3 4 1\n";
    let windows = link_sim::model::link::windows_from_ionrc(plan).unwrap();
    let listen: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = link_sim::proxy::ProxyConfig::for_link(&windows, 3, 4, listen, orbital.tcpcl[0]).unwrap();
    let proxy = rt.block_on(link_sim::proxy::Proxy::start(config)).unwrap();
    let relay = relay(&dir.0, proxy.local_addr());
    let ground = ground(&dir.0, "tcpcl", relay.tcpcl[0]);
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        client.register("ipn:2.5").await.unwrap();
        let started = std::time::Instant::now();
        let question = Bytes::from_static(b"what is the cluster's load?");
        assert_eq!(
            client
                .submit(&Outgoing { lifetime_ms: 120_000, ..Outgoing::new("ipn:2.5", "ipn:4.7") }, question.clone())
                .await
                .unwrap()
                .status,
            0
        );
        let answer = tokio::time::timeout(Duration::from_secs(60), client.next_delivery(1 << 20))
            .await
            .expect("no answer across the space link within 60 s")
            .unwrap();
        let rtt = started.elapsed();
        assert_eq!((answer.source.as_str(), &answer.payload), ("ipn:4.7", &question));
        answer.acknowledge().await.unwrap();
        // Not before the contact opened, and not faster than light: two one-second trips.
        assert!(rtt >= Duration::from_secs(2), "answered in {rtt:?}");
        let stats = proxy.stats();
        assert!(stats.forward.bytes_out > 0 && stats.reverse.bytes_out > 0, "{stats:?}");
    });
    drop(proxy);
}

#[test]
fn a_submission_cut_off_midway_leaves_nothing_and_the_retry_arrives_once() {
    let (dir, ground, rt) = ground_with_client("app-cut", "");
    rt.block_on(async {
        let me = tls(&dir.0, "client", "ca");
        let adu = Bytes::from((0..6_000_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>());
        // The connection drops after the first megabyte has gone out.
        let first = AppClient::connect(ground.app[0], &me).await.unwrap();
        let outgoing = Outgoing::new("ipn:2.5", "ipn:2.5");
        let cut = first
            .submit_with_progress(&outgoing, adu.clone(), |sent| {
                if sent >= 1 << 20 {
                    first.close();
                }
            })
            .await;
        assert!(cut.is_err(), "a submission cut off midway was answered: {cut:?}");
        // The application connects again and sends it whole; it is delivered once.
        let second = AppClient::connect(ground.app[0], &me).await.unwrap();
        second.register("ipn:2.5").await.unwrap();
        let done = second.submit(&outgoing, adu.clone()).await.unwrap();
        assert_eq!(done.status, 0);
        let d = tokio::time::timeout(Duration::from_secs(20), second.next_delivery(16 << 20)).await.unwrap().unwrap();
        assert_eq!(d.payload, adu);
        d.acknowledge().await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(700), second.next_delivery(16 << 20)).await.is_err(),
            "a second copy (the partial one?) was delivered"
        );
    });
}

#[test]
fn a_retry_after_a_lost_answer_is_the_same_adu_even_across_a_crash() {
    let (dir, ground, rt) = ground_with_client("app-retry", "");
    let me = tls(&dir.0, "client", "ca");
    let adu = Outgoing::new("ipn:2.5", "ipn:2.5");
    let payload = Bytes::from_static(b"exactly once");
    let first = rt.block_on(async {
        let sender = AppClient::connect(ground.app[0], &me).await.unwrap();
        let pending = sender.start_submit(&adu, payload.clone(), |_| {}).await.unwrap();
        // The gateway stored it (here is its delivery), but the sender never hears so.
        let receiver = AppClient::connect(ground.app[0], &me).await.unwrap();
        receiver.register("ipn:2.5").await.unwrap();
        let d = tokio::time::timeout(Duration::from_secs(10), receiver.next_delivery(1 << 20)).await.unwrap().unwrap();
        assert_eq!(d.payload, payload);
        let first = d.creation;
        d.acknowledge().await.unwrap();
        drop(pending);
        sender.close();
        // It submits again: answered with the first bundle, and nothing new is made.
        let retry = AppClient::connect(ground.app[0], &me).await.unwrap();
        let done = retry.submit(&adu, payload.clone()).await.unwrap();
        assert_eq!((done.status, done.creation), (0, first));
        let again = tokio::time::timeout(Duration::from_millis(700), receiver.next_delivery(1 << 20)).await;
        assert!(again.is_err(), "the retry was delivered again");
        first
    });
    // The gateway crashes; the application tries once more after it is back.
    let (config, log) = (ground.config.clone(), dir.path("ground.log"));
    ground.kill();
    let ground = Gateway::start_file(&config, &log);
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &me).await.unwrap();
        client.register("ipn:2.5").await.unwrap();
        let done = client.submit(&adu, payload.clone()).await.unwrap();
        assert_eq!((done.status, done.creation), (0, first), "a retry after a restart made another bundle");
        let again = tokio::time::timeout(Duration::from_millis(700), client.next_delivery(1 << 20)).await;
        assert!(again.is_err(), "the retry was delivered again after the restart");
        // A new reference is a new ADU.
        let fresh = client.submit(&Outgoing::new("ipn:2.5", "ipn:2.5"), payload.clone()).await.unwrap();
        assert_eq!(fresh.status, 0);
        assert_ne!(fresh.creation, first);
    });
}

#[test]
fn several_adus_share_a_stream_and_are_answered_in_order() {
    let (dir, ground, rt) = ground_with_client("app-batch", "in_flight = 16\n");
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        client.register("ipn:2.5").await.unwrap();
        // More ADUs than the in-flight quota (the stream is read as answers free it), sizes
        // from empty to beyond one write, and one from a source the certificate does not name.
        let mut batch: Vec<(Outgoing, Bytes)> = (0..100usize)
            .map(|i| (Outgoing::new("ipn:2.5", "ipn:2.5"), Bytes::from(vec![i as u8; (i * 997) % 40_000])))
            .collect();
        batch[37].0.source = "ipn:2.6".into();
        let answers = client.submit_batch(&batch).await.unwrap();
        assert_eq!(answers.len(), 100);
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a.status == 0, i != 37, "answer {i}: {a:?}");
        }
        let mut got = std::collections::BTreeMap::new();
        while got.len() < 99 {
            let d =
                tokio::time::timeout(Duration::from_secs(10), client.next_delivery(1 << 20)).await.unwrap().unwrap();
            assert!(got.insert(d.creation, d.payload.clone()).is_none(), "delivered twice");
            d.acknowledge().await.unwrap();
        }
        for (i, (a, (_, payload))) in answers.iter().zip(&batch).enumerate().filter(|(i, _)| *i != 37) {
            assert_eq!(got.get(&a.creation), Some(payload), "ADU {i} arrived whole, as itself");
        }
        // The same batch again (every answer lost): the same bundles, nothing new.
        let again = client.submit_batch(&batch).await.unwrap();
        assert_eq!(again, answers);
        let more = tokio::time::timeout(Duration::from_millis(700), client.next_delivery(1 << 20)).await;
        assert!(more.is_err(), "a resubmitted batch was delivered again");
    });
}

#[test]
fn deliveries_the_client_drops_are_offered_again_on_the_same_connection() {
    let (dir, ground, rt) = ground_with_client("app-reoffer", "");
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        client.register("ipn:2.5").await.unwrap();
        let batch: Vec<(Outgoing, Bytes)> =
            (0..20u8).map(|i| (Outgoing::new("ipn:2.5", "ipn:2.5"), Bytes::from(vec![i; 100]))).collect();
        assert!(client.submit_batch(&batch).await.unwrap().iter().all(|a| a.status == 0));
        // The first 16 offered (the whole window) are dropped unacknowledged: the gateway
        // must neither stall nor lose them.
        for _ in 0..16 {
            let d =
                tokio::time::timeout(Duration::from_secs(10), client.next_delivery(1 << 20)).await.unwrap().unwrap();
            drop(d);
        }
        let mut got = BTreeSet::new();
        while got.len() < 20 {
            let d = tokio::time::timeout(Duration::from_secs(10), client.next_delivery(1 << 20))
                .await
                .unwrap_or_else(|_| panic!("stalled with {} of 20", got.len()))
                .unwrap();
            got.insert(d.payload[0]);
            d.acknowledge().await.unwrap();
        }
        assert_eq!(got, (0..20u8).collect::<BTreeSet<u8>>());
    });
}

#[test]
fn an_adu_over_the_limit_is_refused_clearly_and_the_connection_goes_on() {
    let (dir, ground, rt) = ground_with_client("app-large", "[tcpcl]\ntransfer_mru = \"64 KiB\"\n");
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        // Refused with that reason whether the client is still writing when the gateway stops
        // the stream (3 MB: beyond the flow-control window) or has sent it all (300 kB).
        let too_large = dtn_core::app::submitted::TOO_LARGE;
        for size in [3_000_000, 300_000] {
            let big = Bytes::from(vec![1u8; size]);
            match client.submit(&Outgoing::new("ipn:2.5", "ipn:2.5"), big.clone()).await {
                Ok(answer) => assert_eq!(answer.status, too_large, "{size} B"),
                Err(e) => assert!(e.contains("larger than it accepts"), "{size} B: {e}"),
            }
            let batch = [
                (Outgoing::new("ipn:2.5", "ipn:2.5"), Bytes::from_static(b"fits")),
                (Outgoing::new("ipn:2.5", "ipn:2.5"), big),
            ];
            match client.submit_batch(&batch).await {
                Ok(answers) => assert_eq!((answers[0].status, answers[1].status), (0, too_large), "{size} B"),
                Err(e) => assert!(e.contains("larger than it accepts"), "{size} B: {e}"),
            }
        }
        let fits = client.submit(&Outgoing::new("ipn:2.5", "ipn:2.5"), Bytes::from(vec![2u8; 60_000])).await.unwrap();
        assert_eq!(fits.status, 0);
    });
}

#[test]
fn an_adu_bigger_than_the_next_hops_transfer_mru_arrives_in_fragments() {
    // The relay takes TCPCL transfers of at most 64 KiB (dtnd's default is 64,000 bytes): the
    // ground gateway fragments a 1 MB bundle to fit, and the relay's application gets it whole.
    let dir = Scratch::new("app-mru");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    issue(&dir.0, "relay", "ipn:3.0");
    issue(&dir.0, "relay-app", "ipn:3.7");
    let relay = Gateway::start(
        &dir.0,
        "relay",
        "[node]\nid = 3\n[storage]\npath = \"r.store\"\nbudget = \"64 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
         transfer_mru = \"64 KiB\"\n[app]\nlisten = [\"127.0.0.1:0\"]\ncert = \"relay.pem\"\nkey = \"relay.key\"\n\
         ca = \"ca.pem\"\n",
    );
    let ground = ground(&dir.0, "tcpcl", relay.tcpcl[0]);
    let rt = runtime();
    rt.block_on(async {
        let receiver = AppClient::connect(relay.app[0], &tls(&dir.0, "relay-app", "ca")).await.unwrap();
        receiver.register("ipn:3.7").await.unwrap();
        let sender = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        let adu = Bytes::from((0..1_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        assert_eq!(sender.submit(&Outgoing::new("ipn:2.5", "ipn:3.7"), adu.clone()).await.unwrap().status, 0);
        let d = tokio::time::timeout(Duration::from_secs(20), receiver.next_delivery(4 << 20))
            .await
            .expect("nothing arrived within 20 s")
            .unwrap();
        assert_eq!(d.payload, adu);
        d.acknowledge().await.unwrap();
    });
}

#[test]
fn a_client_talks_only_to_its_own_nodes_gateway_and_status_is_for_the_nodes_clients() {
    let dir = Scratch::new("app-identity");
    // The ground gateway's application certificate names node 2 and, wrongly, node 3 too.
    issue_naming(&dir.0, "ground", &["ipn:2.0", "ipn:3.0"]);
    issue(&dir.0, "client", "ipn:2.5");
    issue(&dir.0, "visitor", "ipn:3.5");
    issue(&dir.0, "lost", "ipn:9.5");
    let ground = app_ground(&dir.0, "64 MiB", "");
    let rt = runtime();
    rt.block_on(async {
        // Node 2's own client: connects and may ask for the status.
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        let status = client.status().await.unwrap();
        assert!(status.contains("\"node\":2"), "{status}");
        // A client of node 9 finds a gateway that is not its node's, and says so.
        let Err(err) = AppClient::connect(ground.app[0], &tls(&dir.0, "lost", "ca")).await else {
            panic!("a client of node 9 connected to node 2's gateway")
        };
        assert!(err.contains("not the node of this client's endpoints (ipn:9.0)"), "{err}");
        // A client of node 3 (the gateway's certificate names node 3 as well) connects, but
        // node 2's state is not for it.
        let visitor = AppClient::connect(ground.app[0], &tls(&dir.0, "visitor", "ca")).await.unwrap();
        let refused = visitor.status().await.unwrap_err();
        assert!(refused.contains("names no endpoint of this node"), "{refused}");
    });
}

/// A 2 MiB disk with 1,400 KiB of it taken by someone else's file (the ballast, to remove
/// when space is to free).
fn nearly_full_disk(name: &str) -> (support::SmallDisk, std::path::PathBuf) {
    let disk = support::SmallDisk::new(name, "2m");
    let ballast = disk.0.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1_400 << 10]).unwrap();
    (disk, ballast)
}

#[test]
fn a_full_disk_refuses_new_adus_loses_none_and_service_resumes_when_space_frees() {
    let dir = Scratch::new("app-disk-full");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    // The store lives on a 2 MiB disk, most of it taken by someone else's file; its budget
    // (64 MiB) is no help.
    let (disk, ballast) = nearly_full_disk("app-full");
    let toml = format!(
        "[node]\nid = 2\n[storage]\npath = \"{}\"\nbudget = \"64 MiB\"\n[admin]\nlisten = \"127.0.0.1:0\"\n{}",
        disk.0.join("g.store").display(),
        app_section()
    );
    let ground = Gateway::start(&dir.0, "ground", &toml);
    let rt = runtime();
    let accepted = rt.block_on(async {
        let client = Arc::new(AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap());
        let adu = || {
            (
                Outgoing { lifetime_ms: 3_600_000, ..Outgoing::new("ipn:2.5", "ipn:7.1") },
                Bytes::from(vec![9u8; 64 << 10]),
            )
        };
        let mut accepted = 0u64;
        // Submit until one is not answered at once: its commit found the disk full.
        let pending = loop {
            let (out, payload) = adu();
            let c = client.clone();
            let mut answer = tokio::spawn(async move { c.submit(&out, payload).await.unwrap().status });
            match tokio::time::timeout(Duration::from_secs(3), &mut answer).await {
                Ok(status) => {
                    assert_eq!(status.unwrap(), 0);
                    accepted += 1;
                    assert!(accepted < 40, "the disk never filled");
                }
                Err(_) => break answer,
            }
        };
        // Meanwhile a new ADU is refused, "depleted storage" (1 + reason code 4).
        let (out, payload) = adu();
        let refused = client.submit(&out, payload).await;
        let log = || std::fs::read_to_string(dir.path("ground.log")).unwrap_or_default();
        assert!(refused.as_ref().is_ok_and(|r| r.status == 5), "{refused:?}\n{}", log());
        // Space frees: the waiting ADU is stored and answered, and new ones are taken again.
        std::fs::remove_file(&ballast).unwrap();
        let late = tokio::time::timeout(Duration::from_secs(20), pending).await.expect("answered once space freed");
        assert_eq!(late.unwrap(), 0);
        let (out, payload) = adu();
        assert_eq!(client.submit(&out, payload).await.unwrap().status, 0);
        accepted + 2
    });
    // Nothing accepted was lost: a restart finds every one.
    let status = ground.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let again = Gateway::start(&dir.0, "ground", &toml);
    let queues = again.get("/queues");
    assert!(queues.contains(&format!("\"Waiting\":{accepted}")), "{accepted} accepted: {queues}");
}

#[test]
fn a_custodian_with_a_full_disk_refuses_custody_loses_nothing_and_takes_it_once_space_frees() {
    // A (node 2, the application's gateway) passes ADUs with custody to B (node 3), whose
    // store is on a 2 MiB disk someone else's file mostly fills.
    let dir = Scratch::new("custody-disk-full");
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    let (disk, ballast) = nearly_full_disk("custody-full");
    let inbox = dir.path("inbox");
    let b = Gateway::start(
        &dir.0,
        "b",
        &format!(
            "[node]\nid = 3\n[storage]\npath = \"{}\"\nbudget = \"64 MiB\"\n[custody]\nenabled = true\n\
             [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n\
             [[endpoint]]\neid = \"ipn:3.1\"\ndeliver = \"dir\"\ndir = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            disk.0.join("b.store").display(),
            inbox.display()
        ),
    );
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"a.store\"\nbudget = \"64 MiB\"\n\
             [custody]\nenabled = true\nmargin_ms = 300\ndefault_owlt_ms = 50\n\
             [[peer]]\nnode = 3\ncla = \"tcpcl\"\naddress = \"{}\"\ncustody = true\n[admin]\nlisten = \"127.0.0.1:0\"\n{}",
            b.tcpcl[0],
            app_section()
        ),
    );
    let count = 30u64;
    let rt = runtime();
    rt.block_on(async {
        let client = AppClient::connect(a.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        for i in 0..count {
            let mut payload = format!("adu {i:03} ").into_bytes();
            payload.resize(64 << 10, i as u8);
            let adu = Outgoing { lifetime_ms: 3_600_000, ..Outgoing::new("ipn:2.5", "ipn:3.1") };
            assert_eq!(client.submit(&adu, Bytes::from(payload)).await.unwrap().status, 0, "A takes ADU {i}");
        }
    });
    let files = || std::fs::read_dir(&inbox).map_or(0, |d| d.count()) as u64;
    let log = |n: &str| std::fs::read_to_string(dir.path(&format!("{n}.log"))).unwrap_or_default();
    // B takes what fits and refuses the rest ("depleted storage"); A keeps what B refused.
    let refused = support::eventually(Duration::from_secs(20), || support::counter(&b, "bundles_deleted") > 0);
    assert!(refused, "B never refused a bundle\n{}", log("b"));
    std::thread::sleep(Duration::from_secs(2));
    let early = files();
    assert!(early < count, "all {early} delivered on a full disk");
    let held = a.get("/queues");
    eprintln!("on the full disk: {early} delivered; A holds {held}");
    // Told "depleted storage", A holds them waiting (and tries again after a back-off)
    // rather than awaiting a signal that will not come.
    assert!(held.contains("\"Waiting\""), "A let go of what B refused, or waits for its timer: {held}");
    // Space frees: A tries again by itself, and every ADU arrives exactly once.
    std::fs::remove_file(&ballast).unwrap();
    let all = support::eventually(Duration::from_secs(60), || files() == count);
    assert!(all, "{} of {count} delivered after space freed\nA:\n{}\nB:\n{}", files(), log("a"), log("b"));
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&inbox).unwrap() {
        let body = std::fs::read(entry.unwrap().path()).unwrap();
        let i: u64 = std::str::from_utf8(&body[4..7]).unwrap().parse().unwrap();
        assert!(seen.insert(i), "ADU {i} delivered twice");
        assert_eq!(body.len(), 64 << 10);
    }
    // A let go of each once B had it.
    let released = support::eventually(Duration::from_secs(20), || !a.get("/queues").contains("\"Waiting\""));
    assert!(released, "A still holds: {}", a.get("/queues"));
    drop(b);
}

#[test]
fn an_application_asks_for_its_adu_to_be_encrypted_and_a_service_no_rule_gives_is_refused() {
    // The gateway's policy encrypts ADUs to ipn:2.* only when their application asks; it
    // has no integrity rule. The client is its own receiver: what it gets shows what the
    // policy did (no acceptor at the source).
    let dir = Scratch::new("app-bpsec");
    gateway::daemon::bpsec_config::write_jwk(&dir.path("kek.jwk"), "kek", &[0x33; 16]).unwrap();
    let policy = "[bpsec]\nkeys = [{ id = \"kek\", file = \"kek.jwk\" }]\n[[bpsec.rule]]\nrole = \"source\"\n\
                  service = \"confidentiality\"\ndestination = \"ipn:2.*\"\nkeys = [\"kek\"]\nwrap = true\n\
                  on_request = true\n";
    issue(&dir.0, "ground", "ipn:2.0");
    issue(&dir.0, "client", "ipn:2.5");
    let ground = app_ground(&dir.0, "64 MiB", &format!("\n{policy}"));
    let rt = runtime();
    rt.block_on(async {
        let client = AppClient::connect(ground.app[0], &tls(&dir.0, "client", "ca")).await.unwrap();
        client.register("ipn:2.5").await.unwrap();
        let secret = Bytes::from_static(b"orbit maintenance window: 14:02Z");
        let plain = Outgoing::new("ipn:2.5", "ipn:2.5");
        let asked = |integrity, confidentiality| Outgoing {
            protection: dtn_core::bpsec::Protection { integrity, confidentiality },
            ..Outgoing::new("ipn:2.5", "ipn:2.5")
        };
        let next = || async {
            tokio::time::timeout(Duration::from_secs(10), client.next_delivery(1 << 20)).await.unwrap().unwrap()
        };
        // Not asked: the on-request rule stays out of it.
        assert_eq!(client.submit(&plain, secret.clone()).await.unwrap().status, 0);
        let d = next().await;
        assert_eq!(d.payload, secret);
        d.acknowledge().await.unwrap();
        // Asked: the payload leaves the gateway as ciphertext of the same length.
        assert_eq!(client.submit(&asked(false, true), secret.clone()).await.unwrap().status, 0);
        let d = next().await;
        assert_eq!(d.payload.len(), secret.len());
        assert_ne!(d.payload, secret, "asked for confidentiality, got plaintext");
        d.acknowledge().await.unwrap();
        // Integrity asked, and no rule of the policy signs: refused, reason 12, nothing stored.
        let refused = client.submit(&asked(true, true), secret.clone()).await.unwrap();
        assert_eq!(refused.status, 1 + 12, "{refused:?}");
        let more = tokio::time::timeout(Duration::from_millis(500), client.next_delivery(1 << 20)).await;
        assert!(more.is_err(), "a refused ADU was delivered");
    });
}

#[test]
fn a_client_pointed_at_no_gateway_says_so_within_seconds_and_does_not_retry() {
    let dir = Scratch::new("app-nobody");
    issue(&dir.0, "client", "ipn:2.5");
    // A UDP port nobody listens on: bound and dropped.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = dir.path("adu");
    std::fs::write(&file, b"hello").unwrap();
    let gateway = format!("127.0.0.1:{port}");
    let tls = |c: &mut std::process::Command| {
        c.args(["--gateway", &gateway])
            .arg("--cert")
            .arg(dir.path("client.pem"))
            .arg("--key")
            .arg(dir.path("client.key"))
            .arg("--ca")
            .arg(dir.path("ca.pem"));
    };
    for what in ["send", "status"] {
        let mut c = support::dtn();
        c.arg(what);
        if what == "send" {
            c.arg(&file).args(["--to", "ipn:3.1", "--retry-for", "30"]);
        }
        tls(&mut c);
        let started = std::time::Instant::now();
        let out = c.output().unwrap();
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: {err}");
        assert!(
            err.contains(&format!("no gateway answering at {gateway}")) && err.contains("[app] listen"),
            "{what}: {err}"
        );
        // Two seconds of handshake, not 30 s of silence, and no retries for a gateway never there.
        assert!(took < Duration::from_secs(6), "{what} took {took:?}");
    }
}
