//! Request streams of the node link (DESIGN §4): `kubectl logs` and `kubectl exec`.
//!
//! Owns the wire shape only; no I/O. For each request the orchestrator opens a
//! new bidirectional QUIC stream on the node's existing control connection and
//! writes one [`StreamRequest`] frame (4-byte big-endian length + JSON, as in
//! [`node_protocol`](crate::node_protocol), but at most [`MAX_REQUEST_FRAME`]
//! bytes). The node answers with one [`StreamReply`] frame (same framing):
//! `Ok`, or `Error` with a Kubernetes-style code/reason/message, after which it
//! finishes the stream.
//!
//! After `Ok`:
//! - **logs**: the node sends the log bytes raw, exactly as the API server
//!   returns them to the client, and finishes the stream at the end (at once
//!   without `follow`; when the container run ends with it). The orchestrator
//!   stops reading (and resets) when its client goes away.
//! - **exec**: both directions carry [`ExecFrame`]s: a 1-byte tag, a 4-byte
//!   big-endian length and at most [`MAX_DATA_FRAME`] bytes of payload. The
//!   orchestrator sends `Stdin` and then `StdinClosed` (or finishes the stream);
//!   the node sends `Stdout`/`Stderr` and one final `Exit`, then finishes.
//!
//! Invariant: every decoder here is total — any byte string is either a value
//! or a [`FrameError`]; nothing panics, nothing allocates beyond the limits.

use serde::{Deserialize, Serialize};

use crate::node_protocol::{FrameError, PodRef};

/// Largest request or reply frame body, in bytes.
pub const MAX_REQUEST_FRAME: usize = 64 << 10;
/// Largest payload of one exec data frame, in bytes.
pub const MAX_DATA_FRAME: usize = 1 << 20;
/// Most argv entries an exec may carry.
pub const MAX_EXEC_ARGS: usize = 1024;

/// What the orchestrator asks of a node on a new stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StreamRequest {
    Logs(LogsRequest),
    Exec(ExecRequest),
}

/// `GET …/pods/{name}/log`, with the container already resolved by the API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsRequest {
    pub pod: PodRef,
    pub container: String,
    #[serde(default)]
    pub follow: bool,
    #[serde(default)]
    pub previous: bool,
    #[serde(default)]
    pub timestamps: bool,
    /// Only the last this many lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_lines: Option<u64>,
    /// Only lines logged at or after this instant (RFC 3339); `sinceSeconds`
    /// is turned into this by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Stop after this many bytes of output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
}

/// `…/pods/{name}/exec`: run the container's module anew with `command` as argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecRequest {
    pub pod: PodRef,
    pub container: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub tty: bool,
}

/// The node's answer to a [`StreamRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StreamReply {
    Ok,
    Error(StreamFailure),
}

/// Why a request was refused, as a Kubernetes `Status` would say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct StreamFailure {
    /// HTTP status code: 400, 404, 500…
    pub code: u16,
    /// `Status.reason`: `BadRequest`, `NotFound`, `InternalError`…
    pub reason: String,
    pub message: String,
}

impl StreamFailure {
    pub fn bad_request(message: impl Into<String>) -> Self {
        StreamFailure {
            code: 400,
            reason: "BadRequest".into(),
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        StreamFailure {
            code: 404,
            reason: "NotFound".into(),
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        StreamFailure {
            code: 500,
            reason: "InternalError".into(),
            message: message.into(),
        }
    }
}

fn check_pod(pod: &PodRef) -> Result<(), String> {
    for (what, v) in [
        ("namespace", &pod.namespace),
        ("name", &pod.name),
        ("uid", &pod.uid),
    ] {
        if v.is_empty() || v.len() > 253 {
            return Err(format!("pod {what} must be 1 to 253 characters"));
        }
    }
    Ok(())
}

fn check_container(c: &str) -> Result<(), String> {
    if c.is_empty() || c.len() > 63 {
        return Err("container name must be 1 to 63 characters".into());
    }
    Ok(())
}

impl StreamRequest {
    /// Checks what a decoder cannot: names present, argv non-empty and bounded.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            StreamRequest::Logs(r) => {
                check_pod(&r.pod)?;
                check_container(&r.container)
            }
            StreamRequest::Exec(r) => {
                check_pod(&r.pod)?;
                check_container(&r.container)?;
                if r.command.is_empty() {
                    return Err("you must specify at least 1 command".into());
                }
                if r.command.len() > MAX_EXEC_ARGS {
                    return Err(format!("at most {MAX_EXEC_ARGS} command arguments"));
                }
                Ok(())
            }
        }
    }
}

/// Encodes a request or reply as one frame.
pub fn encode_head<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; 4];
    serde_json::to_writer(&mut out, msg).map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - 4;
    if len > MAX_REQUEST_FRAME {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_REQUEST_FRAME,
        });
    }
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// The body length a request/reply header announces, checked against [`MAX_REQUEST_FRAME`].
pub fn head_len(header: [u8; 4]) -> Result<usize, FrameError> {
    match u32::from_be_bytes(header) as usize {
        0 => Err(FrameError::Empty),
        l if l > MAX_REQUEST_FRAME => Err(FrameError::TooLarge {
            len: l,
            max: MAX_REQUEST_FRAME,
        }),
        l => Ok(l),
    }
}

/// Decodes a request body and validates it.
pub fn decode_request(body: &[u8]) -> Result<StreamRequest, FrameError> {
    let r: StreamRequest =
        serde_json::from_slice(body).map_err(|e| FrameError::Decode(e.to_string()))?;
    r.validate().map_err(FrameError::Decode)?;
    Ok(r)
}

/// Decodes a reply body.
pub fn decode_reply(body: &[u8]) -> Result<StreamReply, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Decode(e.to_string()))
}

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExecExit {
    /// The command ran and exited with this code (0 = success).
    Code(i32),
    /// The command could not be run (a host failure): an internal error.
    Error(String),
}

/// One exec data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecFrame {
    Stdin(Vec<u8>),
    StdinClosed,
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(ExecExit),
}

const TAG_STDIN: u8 = 0;
const TAG_STDOUT: u8 = 1;
const TAG_STDERR: u8 = 2;
const TAG_EXIT: u8 = 3;
const TAG_STDIN_CLOSED: u8 = 4;

/// Bytes of an exec frame header: tag and length.
pub const EXEC_HEADER: usize = 5;

impl ExecFrame {
    pub fn encode(&self) -> Vec<u8> {
        let (tag, payload): (u8, std::borrow::Cow<'_, [u8]>) = match self {
            ExecFrame::Stdin(b) => (TAG_STDIN, b.as_slice().into()),
            ExecFrame::StdinClosed => (TAG_STDIN_CLOSED, (&[][..]).into()),
            ExecFrame::Stdout(b) => (TAG_STDOUT, b.as_slice().into()),
            ExecFrame::Stderr(b) => (TAG_STDERR, b.as_slice().into()),
            ExecFrame::Exit(e) => (TAG_EXIT, serde_json::to_vec(e).unwrap_or_default().into()),
        };
        let mut out = Vec::with_capacity(EXEC_HEADER + payload.len());
        out.push(tag);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// The tag and payload length a header announces.
    pub fn header(h: [u8; EXEC_HEADER]) -> Result<(u8, usize), FrameError> {
        let tag = h[0];
        if tag > TAG_STDIN_CLOSED {
            return Err(FrameError::Decode(format!("unknown exec frame tag {tag}")));
        }
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        if len > MAX_DATA_FRAME {
            return Err(FrameError::TooLarge {
                len,
                max: MAX_DATA_FRAME,
            });
        }
        Ok((tag, len))
    }

    /// The frame a header's tag and its payload make.
    pub fn from_parts(tag: u8, payload: Vec<u8>) -> Result<ExecFrame, FrameError> {
        Ok(match tag {
            TAG_STDIN => ExecFrame::Stdin(payload),
            TAG_STDOUT => ExecFrame::Stdout(payload),
            TAG_STDERR => ExecFrame::Stderr(payload),
            TAG_STDIN_CLOSED if payload.is_empty() => ExecFrame::StdinClosed,
            TAG_STDIN_CLOSED => {
                return Err(FrameError::Decode("StdinClosed carries no payload".into()));
            }
            TAG_EXIT => ExecFrame::Exit(
                serde_json::from_slice(&payload).map_err(|e| FrameError::Decode(e.to_string()))?,
            ),
            other => {
                return Err(FrameError::Decode(format!(
                    "unknown exec frame tag {other}"
                )));
            }
        })
    }

    /// Decodes one whole frame from `bytes` (tests and simple readers).
    pub fn decode(bytes: &[u8]) -> Result<(ExecFrame, usize), FrameError> {
        if bytes.len() < EXEC_HEADER {
            return Err(FrameError::Truncated);
        }
        let mut h = [0u8; EXEC_HEADER];
        h.copy_from_slice(&bytes[..EXEC_HEADER]);
        let (tag, len) = Self::header(h)?;
        let end = EXEC_HEADER + len;
        if bytes.len() < end {
            return Err(FrameError::Truncated);
        }
        Ok((
            Self::from_parts(tag, bytes[EXEC_HEADER..end].to_vec())?,
            end,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodRef {
        PodRef {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u-1".into(),
        }
    }

    fn body(frame: &[u8]) -> &[u8] {
        let len = head_len(frame[..4].try_into().unwrap()).unwrap();
        &frame[4..4 + len]
    }

    #[test]
    fn requests_round_trip() {
        for r in [
            StreamRequest::Logs(LogsRequest {
                pod: pod(),
                container: "c".into(),
                follow: true,
                tail_lines: Some(3),
                since_time: Some("2026-01-01T00:00:00Z".parse().unwrap()),
                limit_bytes: Some(10),
                previous: false,
                timestamps: true,
            }),
            StreamRequest::Exec(ExecRequest {
                pod: pod(),
                container: "c".into(),
                command: vec!["ls".into(), "/".into()],
                stdin: true,
                tty: false,
            }),
        ] {
            let f = encode_head(&r).unwrap();
            assert_eq!(decode_request(body(&f)).unwrap(), r);
        }
        let f = encode_head(&StreamReply::Error(StreamFailure::bad_request("no"))).unwrap();
        assert_eq!(
            decode_reply(body(&f)).unwrap(),
            StreamReply::Error(StreamFailure::bad_request("no"))
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(head_len([0, 0, 0, 0]), Err(FrameError::Empty));
        assert!(matches!(
            head_len([0, 1, 0, 1]),
            Err(FrameError::TooLarge { .. })
        ));
        for bad in [
            &b"{"[..],
            br#"{"type":"Nope"}"#,
            br#"{"type":"Logs","pod":{"namespace":"","name":"p","uid":"u"},"container":"c"}"#,
            br#"{"type":"Logs","pod":{"namespace":"d","name":"p","uid":"u"},"container":""}"#,
            br#"{"type":"Exec","pod":{"namespace":"d","name":"p","uid":"u"},"container":"c","command":[]}"#,
            br#"{"type":"Exec","pod":{"namespace":"d","name":"p","uid":"u"},"container":"c","command":"ls"}"#,
            br#"{"type":"Logs","pod":{"namespace":"d","name":"p","uid":"u"},"container":"c","tailLines":-1}"#,
        ] {
            assert!(
                matches!(decode_request(bad), Err(FrameError::Decode(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn exec_frames_round_trip_and_bad_ones_are_refused() {
        for f in [
            ExecFrame::Stdin(b"hi".to_vec()),
            ExecFrame::StdinClosed,
            ExecFrame::Stdout(vec![]),
            ExecFrame::Stderr(b"x".to_vec()),
            ExecFrame::Exit(ExecExit::Code(3)),
            ExecFrame::Exit(ExecExit::Error("boom".into())),
        ] {
            let bytes = f.encode();
            assert_eq!(ExecFrame::decode(&bytes).unwrap(), (f, bytes.len()));
        }
        assert!(matches!(
            ExecFrame::decode(&[9, 0, 0, 0, 0]),
            Err(FrameError::Decode(_))
        ));
        assert!(matches!(
            ExecFrame::decode(&[1, 0xff, 0, 0, 0]),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(
            ExecFrame::decode(&[1, 0, 0, 0, 5, b'a']),
            Err(FrameError::Truncated)
        );
        assert!(matches!(
            ExecFrame::decode(&[3, 0, 0, 0, 1, b'{']),
            Err(FrameError::Decode(_))
        ));
        assert!(matches!(
            ExecFrame::decode(&[4, 0, 0, 0, 1, b'x']),
            Err(FrameError::Decode(_))
        ));
    }
}
