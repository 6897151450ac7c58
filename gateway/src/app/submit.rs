//! Submission streams of the application bridge: one ADU to the stream's FIN, or several
//! each with its length, answered in order on the same stream. Every ADU waits for the
//! client's rate and in-flight quota before it is read, so a client over its limits is held
//! back by QUIC flow control, not dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dtn_core::app::Message;
use dtn_core::bpa::Submission;
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::wire::{read_header, write_header};
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
    /// This node's IDs (`ipn:N.0` and any `dtn` names): a client may ask for the node's
    /// status only when its certificate names an endpoint of this node.
    pub node_ids: Arc<Vec<Eid>>,
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
            Ok(Some(Message::Submit { reference, source, destination, lifetime_ms, priority, flags, length })) => {
                (reference, source, destination, lifetime_ms, priority, flags, length)
            }
            Ok(None) if !first => break,
            _ => {
                let _ = recv.stop(VarInt::from_u32(crate::quic::PROTOCOL_ERROR));
                break;
            }
        };
        first = false;
        let (reference, source, destination, lifetime_ms, priority, flags, length) = header;
        let Some(permit) = client.admit().await else { break };
        let limit = usize::try_from(client.max_adu).unwrap_or(usize::MAX);
        let (too_large, malformed) = (crate::quic::BUNDLE_TOO_LARGE, crate::quic::PROTOCOL_ERROR);
        let payload = match length {
            Some(n) if n > client.max_adu => Err(too_large),
            Some(n) => read_exactly(&mut recv, n).await.ok_or(malformed),
            None => recv.read_to_end(limit).await.map_err(|e| match e {
                quinn::ReadToEndError::TooLong => too_large,
                quinn::ReadToEndError::Read(_) => malformed,
            }),
        };
        // An ADU cut off (or over the limit) is not submitted: the client hears nothing for
        // it and tries again.
        let payload = match payload {
            Ok(payload) => payload,
            Err(code) => {
                let _ = recv.stop(VarInt::from_u32(code));
                if code == too_large {
                    // Said in the answer too: the client may have sent it all before the stop.
                    let status = dtn_core::app::submitted::TOO_LARGE;
                    let _ =
                        answers.send(Answer::Now(Message::Submitted { reference, status, creation: (0, 0) }, permit));
                }
                break;
            }
        };
        let refusal = |code: u64| Message::Submitted { reference, status: 1 + code, creation: (0, 0) };
        let answer = match (source.parse::<Eid>(), destination.parse::<Eid>()) {
            (Ok(source), _) if !client.allowed.contains(&source) => {
                Answer::Now(refusal(dtn_core::admin::ReasonCode::NoInformation.code()), permit)
            }
            (Ok(source), Ok(destination)) => {
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
                };
                let (reply, answer) = oneshot::channel();
                // Nobody would tell the client it was stored: do not store it.
                if answers.is_closed() || client.commands.send(Command::AppSubmit { submission, reply }).await.is_err()
                {
                    break;
                }
                Answer::Later { reference, answer, permit }
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

/// Exactly `n` bytes of the stream, read as they arrive (nothing reserved ahead of the data);
/// `None` if the stream ends or fails first.
async fn read_exactly(recv: &mut RecvStream, n: u64) -> Option<Vec<u8>> {
    let n = usize::try_from(n).ok()?;
    let mut buf = Vec::with_capacity(n.min(64 * 1024));
    while buf.len() < n {
        let chunk = recv.read_chunk(n - buf.len(), true).await.ok()??;
        buf.extend_from_slice(&chunk.bytes);
    }
    Some(buf)
}

/// Writes the answers in submission order as they come, then ends the stream.
async fn write_answers(mut send: SendStream, mut pending: mpsc::UnboundedReceiver<Answer>) {
    while let Some(answer) = pending.recv().await {
        // The permit is let go once the answer is written.
        let (message, _permit) = match answer {
            Answer::Now(message, permit) => (message, permit),
            Answer::Later { reference, answer, permit } => {
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
