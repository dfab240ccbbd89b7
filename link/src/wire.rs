//! Frames of the node protocol on quinn streams: read and write one message.

use regatta_api::node_protocol::{self, FrameError};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("reading: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("writing: {0}")]
    Write(#[from] quinn::WriteError),
}

/// The next message, `None` at a clean end of stream (between frames).
pub async fn read<T: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
) -> Result<Option<T>, WireError> {
    let mut header = [0u8; 4];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(_)) => return Err(FrameError::Truncated.into()),
        Err(quinn::ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    let len = node_protocol::body_len(header)?;
    let mut body = vec![0u8; len];
    match recv.read_exact(&mut body).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(_)) => return Err(FrameError::Truncated.into()),
        Err(quinn::ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    Ok(Some(node_protocol::decode_body(&body)?))
}

pub async fn write<T: Serialize>(send: &mut quinn::SendStream, msg: &T) -> Result<(), WireError> {
    let bytes = node_protocol::encode(msg)?;
    send.write_all(&bytes).await?;
    Ok(())
}
