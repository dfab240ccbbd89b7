//! The live node connections, by node name, and request streams on them
//! (`kubectl logs` / `kubectl exec`, see [`regatta_api::stream_protocol`]).
//!
//! Owns [`NodeConnections`]: a session registers its connection once the node
//! is welcomed and the [`Registration`] guard removes it when the session ends
//! (only if it is still the same connection: a reconnect may have replaced
//! it). Callers (the API server) open a stream with [`NodeConnections::open`]
//! and get the node's reply before any data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regatta_api::stream_protocol::{self as sp, StreamFailure, StreamReply, StreamRequest};

/// How long a node may take to answer a request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Default)]
pub struct NodeConnections {
    conns: Mutex<HashMap<String, quinn::Connection>>,
}

/// Removes the node's connection when dropped.
pub struct Registration {
    conns: Arc<NodeConnections>,
    node: String,
    id: usize,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut conns = self.conns.conns.lock().unwrap();
        if conns
            .get(&self.node)
            .is_some_and(|c| c.stable_id() == self.id)
        {
            conns.remove(&self.node);
        }
    }
}

/// An open request stream, after the node said `Ok`.
pub struct NodeStream {
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("node {0:?} is not connected")]
    NotConnected(String),
    #[error(transparent)]
    Refused(#[from] StreamFailure),
    #[error("node {node:?}: {message}")]
    Link { node: String, message: String },
}

impl NodeConnections {
    /// Registers `conn` as `node`'s live connection (replacing an older one).
    pub fn register(self: &Arc<Self>, node: &str, conn: quinn::Connection) -> Registration {
        let id = conn.stable_id();
        self.conns.lock().unwrap().insert(node.to_string(), conn);
        Registration {
            conns: self.clone(),
            node: node.to_string(),
            id,
        }
    }

    pub fn is_connected(&self, node: &str) -> bool {
        self.conns.lock().unwrap().contains_key(node)
    }

    /// Opens a request stream to `node`, sends `req`, and waits for the reply.
    pub async fn open(&self, node: &str, req: &StreamRequest) -> Result<NodeStream, OpenError> {
        let conn = self
            .conns
            .lock()
            .unwrap()
            .get(node)
            .cloned()
            .ok_or_else(|| OpenError::NotConnected(node.to_string()))?;
        let link = |message: String| OpenError::Link {
            node: node.to_string(),
            message,
        };
        let head = sp::encode_head(req).map_err(|e| link(e.to_string()))?;
        let talk = async {
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| link(e.to_string()))?;
            send.write_all(&head)
                .await
                .map_err(|e| link(e.to_string()))?;
            let mut h = [0u8; 4];
            recv.read_exact(&mut h)
                .await
                .map_err(|e| link(format!("reading the reply: {e}")))?;
            let len = sp::head_len(h).map_err(|e| link(e.to_string()))?;
            let mut body = vec![0u8; len];
            recv.read_exact(&mut body)
                .await
                .map_err(|e| link(format!("reading the reply: {e}")))?;
            match sp::decode_reply(&body).map_err(|e| link(e.to_string()))? {
                StreamReply::Ok => Ok(NodeStream { send, recv }),
                StreamReply::Error(f) => Err(OpenError::Refused(f)),
            }
        };
        tokio::time::timeout(REPLY_TIMEOUT, talk)
            .await
            .map_err(|_| link("no reply in time".into()))?
    }
}
