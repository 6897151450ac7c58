//! The world's side of LTP links (see [`super::ltp`]): bundles into sessions, segments onto
//! the link model one at a time at its rate, segments into the receiving engine, engine
//! timers and outcomes back to the agents.

use bytes::Bytes;
use dtn_core::bpa::{Event, LinkId};
use dtn_core::routing::NodeId;

use super::ltp::{LtpNode, LtpSettings, Outcome, now_ms, plan_time};
use super::world::{SimEvent, TxRecord, World};
use crate::model::link::Fate;

impl World {
    /// A node's engine with a span to each neighbour; the spans come up as the agent's links
    /// do (a restarted node's links are brought up again by [`World::restart`]).
    pub(super) fn new_ltp_node(&mut self, node: NodeId, settings: LtpSettings) -> LtpNode {
        let peers: Vec<NodeId> = self.links.keys().filter(|(f, _)| *f == node).map(|(_, t)| *t).collect();
        LtpNode::new(node, peers, settings, self.reboots)
    }

    /// The agent hands a bundle to the LTP link `node → peer`.
    pub(super) fn ltp_transmit(&mut self, node: NodeId, peer: NodeId, bundle: u64, bytes: Bytes) {
        self.transmissions.push(TxRecord {
            at: self.now,
            from: node,
            to: peer,
            bundle,
            bytes: bytes.len() as u64,
            sent: true,
        });
        self.last_sent.insert((node, bundle), self.now);
        let Some(ltp) = self.ltp_nodes.get_mut(&node) else { return };
        let failed = ltp.submit(peer, bundle, bytes);
        self.apply_outcomes(node, failed);
        self.ltp_pump(node, peer);
        self.arm_ltp_timer(node);
    }

    /// Sends segments on `node → peer` while the link is free; when it is busy, comes back
    /// when it frees.
    fn ltp_pump(&mut self, node: NodeId, peer: NodeId) {
        let silent = self.silent(node);
        let now = self.now;
        let (Some(ltp), Some(link)) = (self.ltp_nodes.get_mut(&node), self.links.get_mut(&(node, peer))) else {
            return;
        };
        let mut scheduled = Vec::new();
        loop {
            let busy = link.busy_until();
            if busy > now {
                if ltp.pump_at.get(&peer).is_none_or(|&at| at < now || at > busy) {
                    ltp.pump_at.insert(peer, busy);
                    scheduled.push((busy, SimEvent::LtpPump { node, peer }));
                }
                break;
            }
            let mut out = Vec::new();
            if !ltp.engine.poll_transmit(peer, now_ms(now), &mut out) {
                break;
            }
            let bytes = Bytes::from(out);
            if let Fate::Arrives(at) = link.send_now(now, bytes.len() as u64)
                && !silent
            {
                scheduled.push((at, SimEvent::Segment { from: node, to: peer, bytes }));
            }
        }
        for (at, event) in scheduled {
            self.schedule(at, event);
        }
    }

    pub(super) fn ltp_pump_due(&mut self, node: NodeId, peer: NodeId) {
        if let Some(ltp) = self.ltp_nodes.get_mut(&node)
            && ltp.pump_at.get(&peer) == Some(&self.now)
        {
            ltp.pump_at.remove(&peer);
        }
        self.ltp_pump(node, peer);
        self.arm_ltp_timer(node);
    }

    /// A segment arrives at `to` (lost if the node is down or dark).
    pub(super) fn ltp_segment(&mut self, from: NodeId, to: NodeId, bytes: &Bytes) {
        if self.down.contains_key(&to) || self.silent(to) {
            return;
        }
        let ms = now_ms(self.now);
        let Some(ltp) = self.ltp_nodes.get_mut(&to) else { return };
        // A hostile or corrupt segment is the engine's to refuse; nothing else to do here.
        let _ = ltp.engine.handle_datagram(from, bytes, ms);
        self.after_ltp(to);
    }

    pub(super) fn ltp_timer(&mut self, node: NodeId) {
        let ms = now_ms(self.now);
        let Some(ltp) = self.ltp_nodes.get_mut(&node) else { return };
        if ltp.timer_at == Some(self.now) {
            ltp.timer_at = None;
        }
        ltp.engine.handle_timeout(ms);
        self.after_ltp(node);
    }

    /// The agent saw its link to `peer` go up or down: so does the span.
    pub(super) fn ltp_link(&mut self, node: NodeId, peer: NodeId, up: bool) {
        let now = self.now;
        // The contact the agent believes in (its pass may be missed: the span finds out).
        let window = self
            .links
            .get(&(node, peer))
            .and_then(|l| l.windows().iter().find(|w| w.start <= now && now < w.end))
            .copied();
        let next = self
            .links
            .get(&(node, peer))
            .and_then(|l| l.windows().iter().find(|w| w.start > now).map(|w| w.start.plus(l.acquisition_lag_nanos())));
        let Some(ltp) = self.ltp_nodes.get_mut(&node) else { return };
        if up {
            if let Some(w) = window {
                ltp.engine.set_owlt(peer, owlt_ms(w.owlt_max_nanos));
            }
            ltp.engine.set_link(peer, true, now_ms(now));
            self.after_ltp(node);
        } else {
            let outcomes = ltp.link_down(peer, now, next);
            self.apply_outcomes(node, outcomes);
            self.arm_ltp_timer(node);
        }
    }

    /// Outcomes to the agent, new sessions for freed windows, segments out, the timer armed.
    fn after_ltp(&mut self, node: NodeId) {
        let Some(ltp) = self.ltp_nodes.get_mut(&node) else { return };
        let outcomes = ltp.outcomes();
        self.apply_outcomes(node, outcomes);
        let peers: Vec<NodeId> =
            self.ltp_nodes.get(&node).map(|l| l.waiting.keys().copied().collect()).unwrap_or_default();
        for peer in peers {
            if let Some(ltp) = self.ltp_nodes.get_mut(&node) {
                let failed = ltp.start_blocks(peer);
                self.apply_outcomes(node, failed);
            }
        }
        let pending: Vec<NodeId> = self
            .links
            .keys()
            .filter(|(f, _)| *f == node)
            .map(|(_, t)| *t)
            .filter(|&peer| self.ltp_nodes.get(&node).is_some_and(|l| l.engine.has_pending(peer)))
            .collect();
        for peer in pending {
            self.ltp_pump(node, peer);
        }
        self.arm_ltp_timer(node);
    }

    fn apply_outcomes(&mut self, node: NodeId, outcomes: Vec<Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Received { from, bundles } => {
                    for bytes in bundles {
                        self.apply_now(node, Event::Received { link: LinkId(from as u32), bytes });
                    }
                }
                Outcome::Sent { peer, bundle, ok } => {
                    self.apply_now(node, Event::Transmitted { link: LinkId(peer as u32), bundle, ok });
                }
            }
        }
    }

    fn arm_ltp_timer(&mut self, node: NodeId) {
        let now = self.now;
        let Some(ltp) = self.ltp_nodes.get_mut(&node) else { return };
        let Some(due) = ltp.engine.poll_timeout().map(|ms| plan_time(ms).max(now)) else { return };
        if ltp.timer_at.is_some_and(|t| t <= due && t >= now) {
            return;
        }
        ltp.timer_at = Some(due);
        self.schedule(due, SimEvent::LtpTimer { node });
    }
}

fn owlt_ms(nanos: i64) -> u64 {
    u64::try_from(nanos / 1_000_000).unwrap_or(0)
}
