//! The real-time proxy on loopback: measured delay, rate and loss against the link model, and
//! nothing through outside a contact. Timing bounds allow for a loaded two-core machine: the
//! lower bounds are the model's (nothing may arrive early), the upper ones are generous.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dtn_core::routing::PlanTime;
use link_sim::model::link::{Impairments, Window};
use link_sim::model::loss::FrameLoss;
use link_sim::proxy::{Proxy, ProxyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

const LOOPBACK: &str = "127.0.0.1:0";

fn window(start_s: i64, end_s: i64, rate: u64, owlt_ms: i64) -> Window {
    Window {
        start: PlanTime::from_secs(start_s),
        end: PlanTime::from_secs(end_s),
        rate_bytes_per_sec: rate,
        owlt_min_nanos: owlt_ms * 1_000_000,
        owlt_max_nanos: owlt_ms * 1_000_000,
    }
}

/// A proxy for link 1 → 2 (and back) over `windows`, forwarding to `upstream`.
async fn proxy(windows: Vec<Window>, upstream: SocketAddr, udp: bool, loss: f64, time_scale: f64) -> Proxy {
    let plan = BTreeMap::from([((1, 2), windows.clone()), ((2, 1), windows)]);
    let mut config = ProxyConfig::for_link(&plan, 1, 2, LOOPBACK.parse().unwrap(), upstream).unwrap();
    config.impairments = Impairments { loss: FrameLoss::new(0.0, loss).unwrap(), ..Impairments::default() };
    config.udp = udp;
    config.time_scale = time_scale;
    Proxy::start(config).await.unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_bytes_take_the_light_time_each_way() {
    let server = TcpListener::bind(LOOPBACK).await.unwrap();
    let upstream = server.local_addr().unwrap();
    let echo = tokio::spawn(async move {
        let (mut s, _) = server.accept().await.unwrap();
        let mut buf = [0u8; 100];
        s.read_exact(&mut buf).await.unwrap();
        let arrived = Instant::now();
        s.write_all(&buf).await.unwrap();
        arrived
    });
    let p = proxy(vec![window(0, 3_600, 10_000_000, 150)], upstream, false, 0.0, 1.0).await;
    let mut client = TcpStream::connect(p.local_addr()).await.unwrap();
    let sent = Instant::now();
    client.write_all(&[7u8; 100]).await.unwrap();
    let mut back = [0u8; 100];
    client.read_exact(&mut back).await.unwrap();
    let round_trip = sent.elapsed();
    let one_way = echo.await.unwrap() - sent;
    assert!((150.0..260.0).contains(&ms(one_way)), "one way {:.1} ms, light time 150 ms", ms(one_way));
    assert!((300.0..450.0).contains(&ms(round_trip)), "round trip {:.1} ms", ms(round_trip));
    assert_eq!(back, [7u8; 100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_throughput_is_the_contact_rate() {
    const RATE: u64 = 400_000;
    const TOTAL: usize = 1_200_000;
    let server = TcpListener::bind(LOOPBACK).await.unwrap();
    let upstream = server.local_addr().unwrap();
    let sink = tokio::spawn(async move {
        let (mut s, _) = server.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let (mut got, mut first) = (0usize, None);
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
            first.get_or_insert((Instant::now(), n));
        }
        let (t0, n0) = first.unwrap();
        (got, (got - n0) as f64 / t0.elapsed().as_secs_f64())
    });
    let p = proxy(vec![window(0, 3_600, RATE, 10)], upstream, false, 0.0, 1.0).await;
    let mut client = TcpStream::connect(p.local_addr()).await.unwrap();
    client.write_all(&vec![1u8; TOTAL]).await.unwrap();
    client.shutdown().await.unwrap();
    let (got, rate) = sink.await.unwrap();
    assert_eq!(got, TOTAL, "every byte, once");
    let error = (rate - RATE as f64).abs() / RATE as f64;
    assert!(error < 0.15, "measured {rate:.0} B/s against {RATE} B/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_delay_and_loss_follow_the_model() {
    const SENT: u64 = 600;
    let sink = UdpSocket::bind(LOOPBACK).await.unwrap();
    let p = proxy(vec![window(0, 3_600, 1_000_000, 50)], sink.local_addr().unwrap(), true, 0.2, 1.0).await;
    let client = UdpSocket::bind(LOOPBACK).await.unwrap();
    let origin = Instant::now();
    let receiver = tokio::spawn(async move {
        let (mut delays, mut buf) = (Vec::new(), [0u8; 600]);
        while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), sink.recv(&mut buf)).await {
            let sent_ns = u64::from_be_bytes(buf[..8].try_into().unwrap());
            delays.push(ms(origin.elapsed()) - sent_ns as f64 / 1e6);
            assert_eq!(n, 500);
        }
        delays
    });
    for i in 0..SENT {
        let mut datagram = [0u8; 500];
        datagram[..8].copy_from_slice(&(origin.elapsed().as_nanos() as u64).to_be_bytes());
        client.send_to(&datagram, p.local_addr()).await.unwrap();
        if i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let delays = receiver.await.unwrap();
    let stats = p.stats().forward;
    assert_eq!(stats.frames_in, SENT);
    assert_eq!(delays.len() as u64, stats.frames_out, "what the proxy sent arrived");
    assert_eq!(stats.frames_out + stats.lost, SENT, "every datagram passed or was lost");
    let loss = stats.lost as f64 / SENT as f64;
    assert!((loss - 0.2).abs() < 0.06, "loss {loss:.3} against 0.2");
    // 50 ms of light time plus 0.5 ms on the wire, behind whatever was queued.
    let min = delays.iter().copied().fold(f64::MAX, f64::min);
    let median = {
        let mut d = delays.clone();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    assert!(min >= 50.0, "a datagram arrived after {min:.2} ms, before the light time");
    assert!(median < 90.0, "median delay {median:.1} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_are_serialised_at_the_rate() {
    // 100 datagrams of 10 kB offered at about 5 MB/s into a 1 MB/s link: they leave 10 ms
    // apart. (Offered in small groups: a 1 MB burst would overflow the proxy's socket buffer
    // in the kernel before the link model sees it.)
    let sink = UdpSocket::bind(LOOPBACK).await.unwrap();
    let p = proxy(vec![window(0, 3_600, 1_000_000, 5)], sink.local_addr().unwrap(), true, 0.0, 1.0).await;
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; 20_000];
        let mut times = Vec::new();
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), sink.recv(&mut buf)).await {
            times.push(Instant::now());
        }
        times
    });
    let client = UdpSocket::bind(LOOPBACK).await.unwrap();
    for i in 0..100 {
        client.send_to(&[3u8; 10_000], p.local_addr()).await.unwrap();
        if i % 5 == 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let times = receiver.await.unwrap();
    assert_eq!(times.len(), 100, "{:?}", p.stats().forward);
    let spread = ms(times[99] - times[0]);
    assert!((99.0 * 10.0 * 0.9..99.0 * 10.0 * 1.15).contains(&spread), "99 gaps of 10 ms took {spread:.0} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_contact_nothing_passes() {
    // Plan time runs 10× the wall clock: the contact [5 s, 8 s) of plan time is open from
    // 0.5 s to 0.8 s of wall time, with 1 s (0.1 s wall) of light time.
    let contact = vec![window(5, 8, 1_000_000, 1_000)];
    let sink = UdpSocket::bind(LOOPBACK).await.unwrap();
    let p = proxy(contact.clone(), sink.local_addr().unwrap(), true, 0.0, 10.0).await;
    let client = UdpSocket::bind(LOOPBACK).await.unwrap();
    let started = Instant::now();
    let send_until = |until: Duration| {
        let (client, to) = (&client, p.local_addr());
        async move {
            let mut n = 0;
            while started.elapsed() < until {
                client.send_to(b"ping", to).await.unwrap();
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            n
        }
    };
    let before = send_until(Duration::from_millis(400)).await;
    tokio::time::sleep_until((started + Duration::from_millis(550)).into()).await;
    let during = send_until(Duration::from_millis(700)).await;
    tokio::time::sleep_until((started + Duration::from_millis(900)).into()).await;
    let after = send_until(Duration::from_millis(1_100)).await;
    let mut received = Vec::new();
    let mut buf = [0u8; 16];
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(400), sink.recv(&mut buf)).await {
        received.push(started.elapsed());
    }
    let stats = p.stats().forward;
    assert_eq!(stats.no_contact, (before + after) as u64, "everything outside the window was refused");
    assert_eq!(received.len(), during, "everything inside it passed");
    assert!(received.iter().all(|t| ms(*t) >= 650.0), "nothing before window + light time: {received:?}");

    // A stream written before the contact waits for it.
    let server = TcpListener::bind(LOOPBACK).await.unwrap();
    let upstream = server.local_addr().unwrap();
    let p = proxy(contact, upstream, false, 0.0, 10.0).await;
    let started = Instant::now();
    let mut client = TcpStream::connect(p.local_addr()).await.unwrap();
    client.write_all(b"held until the pass").await.unwrap();
    let (mut s, _) = server.accept().await.unwrap();
    let mut buf = [0u8; 19];
    s.read_exact(&mut buf).await.unwrap();
    let at = ms(started.elapsed());
    assert!((600.0..800.0).contains(&at), "arrived at {at:.0} ms; the window opens at 500, light time 100");
}
