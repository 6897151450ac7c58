//! The real-time link proxy: one link of a contact plan, applied to a live TCP stream or UDP
//! datagrams on loopback, to put between real gateway processes or peer implementations.
//!
//! The same [`crate::model::link::Link`] the simulator uses decides every chunk's fate; the
//! proxy only maps plan time onto the wall clock ([`PlanClock`], optionally sped up) and
//! holds each chunk until its arrival time.
//!
//! - **UDP** (a radio without store): a datagram passes only inside a contact (after the
//!   acquisition lag), is serialised at the contact's rate behind the ones before it, arrives
//!   after the light time of that moment in the pass, and may be lost (bit errors by size,
//!   flat or burst loss) or dropped at a full buffer. Replies from the far side travel the
//!   reverse link back to the last client that sent.
//! - **TCP** (a reliable stream): the proxy ends the client's connection and opens its own to
//!   the far side. Bytes are read in chunks; `governor` paces the reading at the contact's
//!   rate so the sender feels the link through TCP's own flow control; each chunk waits for a
//!   contact, crosses after its serialisation and light time, and a lost chunk is sent again a
//!   round trip later (what the stream's own retransmission would cost), holding up what
//!   follows. Outside a contact nothing passes; the bytes wait. The connection setup itself is
//!   not delayed.
//!
//! The reverse direction uses the plan's `B → A` contacts, or `A → B`'s if the plan has none.

mod batch;
mod channel;
mod clock;
mod tcp;
mod udp;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

pub use channel::{Channel, CounterSnapshot, Counters, Dropped};
pub use clock::PlanClock;
use dtn_core::routing::{NodeId, PlanTime};

use crate::model::link::{Impairments, Link, Window};

/// Bytes read from a stream at a time.
pub(crate) const CHUNK: usize = 16 * 1024;

/// What a proxy does.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The link's sending node (the side that connects to `listen`).
    pub from: NodeId,
    /// The link's receiving node (the side at `to`).
    pub to_node: NodeId,
    /// Contacts `from → to`.
    pub forward: Vec<Window>,
    /// Contacts `to → from` (the reverse direction).
    pub reverse: Vec<Window>,
    /// Loss, acquisition lag, buffer.
    pub impairments: Impairments,
    /// Seeds the link's random streams.
    pub seed: u64,
    /// Plan seconds per wall second.
    pub time_scale: f64,
    /// Plan time when the proxy starts.
    pub start: PlanTime,
    /// Where clients connect (or send).
    pub listen: SocketAddr,
    /// Where the proxy forwards to.
    pub upstream: SocketAddr,
    /// Datagrams instead of a stream.
    pub udp: bool,
    /// Where datagrams to the upstream come from (`None`: a free port).
    pub udp_source: Option<SocketAddr>,
}

impl ProxyConfig {
    /// The `from → to` link of a plan's windows; the reverse direction as the module explains.
    /// `None` if the plan has no contact `from → to`.
    pub fn for_link(
        windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>,
        from: NodeId,
        to: NodeId,
        listen: SocketAddr,
        upstream: SocketAddr,
    ) -> Option<ProxyConfig> {
        let forward = windows.get(&(from, to))?.clone();
        let reverse = windows.get(&(to, from)).cloned().unwrap_or_else(|| forward.clone());
        Some(ProxyConfig {
            from,
            to_node: to,
            forward,
            reverse,
            impairments: Impairments::default(),
            seed: 1,
            time_scale: 1.0,
            start: PlanTime(0),
            listen,
            upstream,
            udp: false,
            udp_source: None,
        })
    }
}

/// Both directions' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyStats {
    /// `from → to`.
    pub forward: CounterSnapshot,
    /// `to → from`.
    pub reverse: CounterSnapshot,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    local: SocketAddr,
    forward: Arc<Channel>,
    reverse: Arc<Channel>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl Proxy {
    /// Binds `config.listen` and starts serving on the current tokio runtime.
    pub async fn start(config: ProxyConfig) -> io::Result<Proxy> {
        let clock = PlanClock::new(config.start, config.time_scale);
        let forward = Arc::new(Channel::new(
            Link::new(config.from, config.to_node, config.forward.clone(), config.impairments, config.seed),
            clock,
        ));
        let reverse = Arc::new(Channel::new(
            Link::new(config.to_node, config.from, config.reverse.clone(), config.impairments, config.seed),
            clock,
        ));
        let (local, task) = if config.udp {
            let socket = udp::bind(config.listen)?;
            let local = socket.local_addr()?;
            let far = udp::far_socket(config.upstream, config.udp_source).await?;
            let task = tokio::spawn(udp::serve(socket, far, forward.clone(), reverse.clone()));
            (local, task)
        } else {
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let local = listener.local_addr()?;
            let task = tokio::spawn(tcp::serve(listener, config.upstream, forward.clone(), reverse.clone()));
            (local, task)
        };
        Ok(Proxy { local, forward, reverse, task })
    }

    /// The address clients use.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// What passed so far.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats { forward: self.forward.counters.snapshot(), reverse: self.reverse.counters.snapshot() }
    }

    /// Plan time now, on the proxy's clock.
    pub fn plan_now(&self) -> PlanTime {
        self.forward.clock().now()
    }

    /// Serves until an I/O error ends the listener.
    pub async fn wait(mut self) -> io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
