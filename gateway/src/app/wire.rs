//! Headers on QUIC streams: the 4-byte length and the CBOR message of `dtn_core::app`.

use dtn_core::app::Message;

/// Why a header could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The stream failed.
    #[error("stream: {0}")]
    Read(#[from] quinn::ReadExactError),
    /// Not a message.
    #[error("{0}")]
    Proto(#[from] dtn_core::app::ProtoError),
}

/// The next header on `recv`; `None` when the stream ended cleanly before one.
pub async fn read_header(recv: &mut quinn::RecvStream) -> Result<Option<Message>, WireError> {
    let mut prefix = [0u8; 4];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = Message::header_len(prefix)?;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await?;
    Ok(Some(Message::decode(&body)?))
}

/// Writes a header.
pub async fn write_header(send: &mut quinn::SendStream, message: &Message) -> Result<(), quinn::WriteError> {
    send.write_all(&message.encode()).await
}
