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
use dtn_core::routing::Priority;
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
    Now(Message),
    /// The stream failed here (QUIC error code): no more answers, the stream is reset.
    Fail(u32),
    Later {
        reference: u64,
        answer: oneshot::Receiver<(u64, (u64, u64))>,
        _permit: OwnedSemaphorePermit,
    },
}

/// Serves one submission stream; `permit` admits its first ADU.
pub async fn stream(client: Arc<Client>, send: SendStream, mut recv: RecvStream, permit: OwnedSemaphorePermit) {
    let (answers, pending) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_answers(send, pending));
    let mut permit = Some(permit);
    let mut first = true;
    loop {
        let header = match read_header(&mut recv).await {
            Ok(Some(Message::Submit { reference, source, destination, lifetime_ms, priority, flags, length })) => {
                (reference, source, destination, lifetime_ms, priority, flags, length)
            }
            Ok(None) if !first => break,
            _ => {
                let _ = recv.stop(VarInt::from_u32(crate::quic::PROTOCOL_ERROR));
                let _ = answers.send(Answer::Fail(crate::quic::PROTOCOL_ERROR));
                break;
            }
        };
        first = false;
        let (reference, source, destination, lifetime_ms, priority, flags, length) = header;
        let permit = match permit.take() {
            Some(p) => p,
            None => match client.admit().await {
                Some(p) => p,
                None => break,
            },
        };
        let limit = usize::try_from(client.max_adu).unwrap_or(usize::MAX);
        let (too_large, malformed) = (crate::quic::BUNDLE_TOO_LARGE, crate::quic::PROTOCOL_ERROR);
        let payload = match length {
            Some(n) if n > client.max_adu => Err(too_large),
            Some(n) => {
                let mut buf = vec![0u8; usize::try_from(n).unwrap_or(usize::MAX)];
                recv.read_exact(&mut buf).await.map(|()| buf).map_err(|_| malformed)
            }
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
                let _ = answers.send(Answer::Fail(code));
                break;
            }
        };
        let refuse = |code: u64| Answer::Now(Message::Submitted { reference, status: 1 + code, creation: (0, 0) });
        let answer = match (source.parse::<Eid>(), destination.parse::<Eid>()) {
            (Ok(source), _) if !client.allowed.contains(&source) => {
                refuse(dtn_core::admin::ReasonCode::NoInformation.code())
            }
            (Ok(source), Ok(destination)) => {
                let submission = Submission {
                    token: 0,
                    source: Some(source),
                    destination,
                    payload: Bytes::from(payload),
                    lifetime_ms: lifetime_ms.clamp(1, 30 * 24 * 3_600_000),
                    flags: BundleFlags(flags & CLIENT_FLAGS),
                    priority: match priority {
                        0 => Priority::Bulk,
                        2 => Priority::Expedited,
                        _ => Priority::Normal,
                    },
                    reference: (reference != 0).then_some(reference),
                };
                let (reply, answer) = oneshot::channel();
                if client.commands.send(Command::AppSubmit { submission, reply }).await.is_err() {
                    break;
                }
                Answer::Later { reference, answer, _permit: permit }
            }
            _ => refuse(dtn_core::admin::ReasonCode::BlockUnintelligible.code()),
        };
        if answers.send(answer).is_err() || length.is_none() {
            break;
        }
    }
    drop(answers);
    let _ = writer.await;
}

/// Writes the answers in submission order as they come, then ends the stream.
async fn write_answers(mut send: SendStream, mut pending: mpsc::UnboundedReceiver<Answer>) {
    while let Some(answer) = pending.recv().await {
        let message = match answer {
            Answer::Now(message) => message,
            Answer::Fail(code) => {
                let _ = send.reset(VarInt::from_u32(code));
                return;
            }
            Answer::Later { reference, answer, _permit } => {
                let Ok(Ok((status, creation))) = tokio::time::timeout(ANSWER_WITHIN, answer).await else { return };
                Message::Submitted { reference, status, creation }
            }
        };
        if write_header(&mut send, &message).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}
