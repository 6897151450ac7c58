//! Submission streams of the application bridge: one ADU to the stream's FIN, or several
//! each with its length, answered in order on the same stream. Every ADU waits for the
//! client's rate and in-flight quota before it is read, so a client over its limits is held
//! back by QUIC flow control, not dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dtn_core::app::Message;
use dtn_core::bpa::Submission;
use dtn_core::bpsec::Protection;
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::wire::{read_header, write_header};
use crate::budget::Reservation;
use crate::daemon::agent::Command;

/// Bundle processing flags an application may set: report requests, status time, no
/// fragmentation, acknowledgement by the application.
const CLIENT_FLAGS: u64 = 0x04 | 0x20 | 0x40 | 0x4000 | 0x1_0000 | 0x2_0000 | 0x4_0000;

/// How long a submission may wait for the agent's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// One client's limits and the way to the agent, shared by its streams.
#[derive(Debug)]
pub struct Client {
    /// The endpoints its certificate names.
    pub allowed: Vec<Eid>,
    /// The agent.
    pub commands: mpsc::Sender<Command>,
    /// Its submission rate.
    pub pace: governor::DefaultDirectRateLimiter,
    /// Its submissions in flight.
    pub quota: Arc<Semaphore>,
    /// Largest ADU.
    pub max_adu: u64,
    /// A submission whose ADU brings nothing for this long is stopped ("no resources"): a
    /// client that keeps its connection alive but never finishes an ADU would hold its share
    /// of the receive budget for ever.
    pub stall: std::time::Duration,
    /// This node's IDs (`ipn:N.0` and any `dtn` names): a client may ask for the node's
    /// status only when its certificate names an endpoint of this node.
    pub node_ids: Arc<Vec<Eid>>,
    /// The node's receive budget: an ADU holds its share from its first byte until it is
    /// stored (or refused).
    pub budget: Option<crate::budget::ReceiveBudget>,
}

impl Client {
    /// Whether the client acts for an endpoint of this node.
    pub fn belongs_here(&self) -> bool {
        self.allowed.iter().filter_map(Eid::node_id).any(|n| self.node_ids.contains(&n))
    }
}

impl Client {
    /// Waits until the client may have one more submission in flight.
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.pace.until_ready().await;
        self.quota.clone().acquire_owned().await.ok()
    }
}

/// An answer to write, in the order of the submissions on the stream.
enum Answer {
    /// An answer known at once (a refusal); the permit bounds how many wait to be written.
    Now(Message, OwnedSemaphorePermit),
    Later {
        reference: u64,
        answer: oneshot::Receiver<(u64, (u64, u64))>,
        permit: OwnedSemaphorePermit,
        /// The ADU's share of the receive budget, until the agent has answered.
        held: Reservation,
    },
}

/// Serves one submission stream.
pub async fn stream(client: Arc<Client>, send: SendStream, mut recv: RecvStream) {
    // Every queued answer holds an in-flight permit: the queue is bounded by the quota.
    let (answers, pending) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_answers(send, pending));
    let mut first = true;
    loop {
        let header = match read_header(&mut recv).await {
            Ok(Some(Message::Submit {
                reference,
                source,
                destination,
                lifetime_ms,
                priority,
                flags,
                length,
                protection,
            })) => (reference, source, destination, lifetime_ms, priority, flags, length, protection),
            Ok(None) if !first => break,
            _ => {
                let _ = recv.stop(VarInt::from_u32(crate::quic::PROTOCOL_ERROR));
                break;
            }
        };
        first = false;
        let (reference, source, destination, lifetime_ms, priority, flags, length, protection) = header;
        let Some(permit) = client.admit().await else { break };
        let too_large = crate::quic::BUNDLE_TOO_LARGE;
        let mut held = Reservation::default();
        let payload =
            read_adu(&mut recv, length, (client.max_adu, client.stall), client.budget.as_ref(), &mut held).await;
        // An ADU cut off (or over the limit) is not submitted: the client hears nothing for
        // it and tries again.
        let payload = match payload {
            Ok(payload) => payload,
            Err(code) => {
                let _ = recv.stop(VarInt::from_u32(code));
                // Said in the answer too: the client may have sent it all before the stop.
                let status = match code {
                    c if c == too_large => Some(dtn_core::app::submitted::TOO_LARGE),
                    crate::quic::NO_RESOURCES => Some(1 + dtn_core::admin::ReasonCode::DepletedStorage.code()),
                    _ => None,
                };
                if let Some(status) = status {
                    let _ =
                        answers.send(Answer::Now(Message::Submitted { reference, status, creation: (0, 0) }, permit));
                }
                break;
            }
        };
        let refusal = |code: u64| Message::Submitted { reference, status: 1 + code, creation: (0, 0) };
        let answer = match (source.parse::<Eid>(), destination.parse::<Eid>(), Protection::from_bits(protection)) {
            (Ok(source), _, _) if !client.allowed.contains(&source) => {
                Answer::Now(refusal(dtn_core::admin::ReasonCode::NoInformation.code()), permit)
            }
            // A service this gateway does not know of cannot be given.
            (_, _, None) => Answer::Now(refusal(dtn_core::admin::ReasonCode::MissingSecurityOperation.code()), permit),
            (Ok(source), Ok(destination), Some(protection)) => {
                let submission = Submission {
                    token: 0,
                    source: Some(source),
                    destination,
                    payload: Bytes::from(payload),
                    lifetime_ms: lifetime_ms.clamp(1, 30 * 24 * 3_600_000),
                    flags: BundleFlags(flags & CLIENT_FLAGS),
                    // Unknown codes (above 255 too) are normal priority.
                    priority: dtn_core::bpa::priority_from(u8::try_from(priority).unwrap_or(u8::MAX)),
                    reference: (reference != 0).then_some(reference),
                    protection,
                };
                let (reply, answer) = oneshot::channel();
                // Nobody would tell the client it was stored: do not store it.
                if answers.is_closed() || client.commands.send(Command::AppSubmit { submission, reply }).await.is_err()
                {
                    break;
                }
                Answer::Later { reference, answer, permit, held }
            }
            _ => Answer::Now(refusal(dtn_core::admin::ReasonCode::BlockUnintelligible.code()), permit),
        };
        if answers.send(answer).is_err() || length.is_none() {
            break;
        }
    }
    drop(answers);
    let _ = writer.await;
}

/// An ADU: exactly `length` bytes of the stream, or (no length) the rest of it, read as they
/// arrive (nothing reserved ahead of the data) within `max` and the receive budget. `Err`:
/// the code to stop the stream with (too large, no resources, or malformed: it ended or
/// failed first).
async fn read_adu(
    recv: &mut RecvStream,
    length: Option<u64>,
    (max, stall): (u64, std::time::Duration),
    budget: Option<&crate::budget::ReceiveBudget>,
    held: &mut Reservation,
) -> Result<Vec<u8>, u32> {
    use crate::quic::{BUNDLE_TOO_LARGE, NO_RESOURCES, PROTOCOL_ERROR};
    if length.is_some_and(|n| n > max) {
        return Err(BUNDLE_TOO_LARGE);
    }
    let want = length.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let mut buf = Vec::with_capacity(want.unwrap_or(0).min(64 * 1024));
    while want.is_none_or(|n| buf.len() < n) {
        let room = want.map_or(64 * 1024, |n| n - buf.len());
        let Ok(read) = tokio::time::timeout(stall, recv.read_chunk(room, true)).await else {
            tracing::warn!(held = buf.len(), "app: a submission stalled: stopped");
            return Err(NO_RESOURCES);
        };
        let chunk = match read {
            Ok(Some(chunk)) => chunk,
            Ok(None) if want.is_none() => break,
            _ => return Err(PROTOCOL_ERROR),
        };
        if buf.len() + chunk.bytes.len() > limit {
            return Err(BUNDLE_TOO_LARGE);
        }
        buf.extend_from_slice(&chunk.bytes);
        if let Some(budget) = budget
            && !budget.resize(held, buf.len())
        {
            tracing::warn!(available = budget.available(), "app: receive memory exhausted: submission refused");
            return Err(NO_RESOURCES);
        }
    }
    Ok(buf)
}

/// Writes the answers in submission order as they come, then ends the stream.
async fn write_answers(mut send: SendStream, mut pending: mpsc::UnboundedReceiver<Answer>) {
    while let Some(answer) = pending.recv().await {
        // The permit is let go once the answer is written.
        let (message, _permit) = match answer {
            Answer::Now(message, permit) => (message, permit),
            Answer::Later { reference, answer, permit, held: _held } => {
                let Ok(Ok((status, creation))) = tokio::time::timeout(ANSWER_WITHIN, answer).await else { return };
                (Message::Submitted { reference, status, creation }, permit)
            }
        };
        if write_header(&mut send, &message).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::*;
    use crate::quic::tests::{ca, config};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_submission_that_stalls_is_stopped_and_gives_its_memory_back() {
        let ca = ca();
        let (client_config, server_config) = (config(&ca, "ipn:1.0"), config(&ca, "ipn:2.0"));
        let server = crate::quic::endpoint(([127, 0, 0, 1], 0).into(), &server_config, true).unwrap();
        let client = crate::quic::endpoint(([127, 0, 0, 1], 0).into(), &client_config, false).unwrap();
        let addr = server.local_addr().unwrap();
        let accepting = tokio::spawn(async move { server.accept().await.unwrap().await.unwrap() });
        let connection = client.connect(addr, "dtn-node").unwrap().await.unwrap();
        let accepted = accepting.await.unwrap();
        // 1,000 bytes of an ADU said to be 1 MiB, then nothing; the connection stays alive.
        let mut send = connection.open_uni().await.unwrap();
        send.write_all(&[0u8; 1000]).await.unwrap();
        let mut recv = accepted.accept_uni().await.unwrap();
        let budget = crate::budget::ReceiveBudget::new(4 << 20);
        let mut held = Reservation::default();
        let started = std::time::Instant::now();
        let read = read_adu(&mut recv, Some(1 << 20), (8 << 20, Duration::from_secs(1)), Some(&budget), &mut held);
        let read = tokio::time::timeout(Duration::from_secs(5), read).await.expect("given up in time");
        assert_eq!(read, Err(crate::quic::NO_RESOURCES));
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        held.release();
        assert_eq!(budget.available(), budget.total());
    }
}
