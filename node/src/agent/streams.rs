//! Request streams on the node link (DESIGN §4): the orchestrator opens a
//! bidirectional QUIC stream per `kubectl logs` / `kubectl exec`; this module
//! accepts them, decodes and validates the request
//! ([`regatta_api::stream_protocol`]), and hands it to whatever serves pods
//! ([`PodStreams`], plugged in through a [`StreamSlot`]), then pumps bytes.
//!
//! Owns the QUIC side only; knows nothing of the runtime. Invariants: a frame
//! over the protocol's limits ends that stream (never the connection); every
//! stream task is owned by the connection's accept task, which aborts them
//! when the session ends.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use regatta_api::node_protocol::FrameError;
use regatta_api::stream_protocol::{
    self as sp, EXEC_HEADER, ExecExit, ExecFrame, ExecRequest, LogsRequest, StreamFailure,
    StreamReply, StreamRequest,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long the orchestrator may take to send its request after opening a stream.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running exec, as the pod side hands it over.
pub struct ExecSession {
    /// `None` when the request did not ask for stdin.
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// End at EOF when the run is over.
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
    /// Resolves when the run is over.
    pub exit: BoxFuture<'static, ExecExit>,
    /// Stops the run (the client went away).
    pub kill: Box<dyn Fn() + Send + Sync>,
}

/// What serves logs and exec for the pods this node runs.
pub trait PodStreams: Send + Sync + 'static {
    /// Log bytes as the client will see them; the channel closes at the end.
    fn logs(&self, req: LogsRequest) -> Result<mpsc::Receiver<Vec<u8>>, StreamFailure>;
    /// Starts the command.
    fn exec(&self, req: ExecRequest) -> Result<ExecSession, StreamFailure>;
}

/// Where the pod manager plugs in once it exists; cheap to clone.
#[derive(Clone, Default)]
pub struct StreamSlot(Arc<Mutex<Option<Arc<dyn PodStreams>>>>);

impl StreamSlot {
    pub fn set(&self, s: Arc<dyn PodStreams>) {
        *self.0.lock().unwrap() = Some(s);
    }

    fn get(&self) -> Option<Arc<dyn PodStreams>> {
        self.0.lock().unwrap().clone()
    }
}

/// Accepts request streams on `conn` until it closes or the returned guard drops.
pub(crate) fn accept(conn: quinn::Connection, slot: StreamSlot) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                s = conn.accept_bi() => match s {
                    Ok((send, recv)) => {
                        tasks.spawn(serve(slot.clone(), send, recv));
                    }
                    Err(_) => break,
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        tasks.shutdown().await;
    })
}

async fn read_request(recv: &mut quinn::RecvStream) -> Result<StreamRequest, FrameError> {
    let mut header = [0u8; 4];
    recv.read_exact(&mut header)
        .await
        .map_err(|_| FrameError::Truncated)?;
    let len = sp::head_len(header)?;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body)
        .await
        .map_err(|_| FrameError::Truncated)?;
    sp::decode_request(&body)
}

async fn reply(send: &mut quinn::SendStream, r: &StreamReply) -> bool {
    match sp::encode_head(r) {
        Ok(bytes) => send.write_all(&bytes).await.is_ok(),
        Err(_) => false,
    }
}

async fn serve(slot: StreamSlot, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let req = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut recv)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "node link: bad stream request; refused");
            let failure = StreamFailure::bad_request(format!("bad stream request: {e}"));
            reply(&mut send, &StreamReply::Error(failure)).await;
            let _ = send.finish();
            return;
        }
        Err(_) => {
            let _ = send.reset(0u8.into());
            return;
        }
    };
    let Some(pods) = slot.get() else {
        let failure = StreamFailure {
            code: 503,
            reason: "ServiceUnavailable".into(),
            message: "the node is not running pods yet".into(),
        };
        reply(&mut send, &StreamReply::Error(failure)).await;
        let _ = send.finish();
        return;
    };
    match req {
        StreamRequest::Logs(r) => serve_logs(pods.as_ref(), r, send).await,
        StreamRequest::Exec(r) => serve_exec(pods.as_ref(), r, send, recv).await,
    }
}

async fn serve_logs(pods: &dyn PodStreams, req: LogsRequest, mut send: quinn::SendStream) {
    let mut chunks = match pods.logs(req) {
        Ok(rx) => rx,
        Err(f) => {
            reply(&mut send, &StreamReply::Error(f)).await;
            let _ = send.finish();
            return;
        }
    };
    if !reply(&mut send, &StreamReply::Ok).await {
        return;
    }
    loop {
        tokio::select! {
            c = chunks.recv() => match c {
                Some(c) => if send.write_all(&c).await.is_err() { return },
                None => break,
            },
            // The orchestrator reset the stream: its client went away.
            _ = send.stopped() => return,
        }
    }
    let _ = send.finish();
}

async fn serve_exec(
    pods: &dyn PodStreams,
    req: ExecRequest,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let session = match pods.exec(req) {
        Ok(s) => s,
        Err(f) => {
            reply(&mut send, &StreamReply::Error(f)).await;
            let _ = send.finish();
            return;
        }
    };
    let ExecSession {
        stdin,
        stdout,
        stderr,
        exit,
        kill,
    } = session;
    // However this ends (the link drops, the task is aborted), the run stops.
    let guard = KillOnDrop(Some(kill));
    let kill = || guard.kill();
    if !reply(&mut send, &StreamReply::Ok).await {
        return;
    }
    let (out_tx, mut out_rx) = mpsc::channel::<ExecFrame>(16);
    let pump = |mut r: Box<dyn AsyncRead + Send + Unpin>, stdout: bool| {
        let tx = out_tx.clone();
        async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match r.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let data = buf[..n].to_vec();
                        let f = if stdout {
                            ExecFrame::Stdout(data)
                        } else {
                            ExecFrame::Stderr(data)
                        };
                        if tx.send(f).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    };
    let outputs = futures::future::join(pump(stdout, true), pump(stderr, false));
    drop(out_tx);
    let input = feed_stdin(&mut recv, stdin);
    let writer = async {
        while let Some(f) = out_rx.recv().await {
            if send.write_all(&f.encode()).await.is_err() {
                return false;
            }
        }
        true
    };
    // Outputs end at EOF (the run is over); the writer when they have.
    let ok = {
        let run = async {
            let (_, ok) = futures::future::join(outputs, writer).await;
            ok
        };
        tokio::pin!(run);
        tokio::pin!(input);
        let mut input_done = false;
        loop {
            tokio::select! {
                ok = &mut run => break ok,
                gone = &mut input, if !input_done => {
                    input_done = true;
                    if gone {
                        // The orchestrator reset its side: the client left.
                        kill();
                    }
                }
            }
        }
    };
    if !ok {
        kill();
        return;
    }
    let code = exit.await;
    tracing::debug!(exit = ?code, "exec ended");
    let _ = send.write_all(&ExecFrame::Exit(code).encode()).await;
    let _ = send.finish();
}

/// Kills an exec's run when dropped.
struct KillOnDrop(Option<Box<dyn Fn() + Send + Sync>>);

impl KillOnDrop {
    fn kill(&self) {
        if let Some(k) = &self.0 {
            k();
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // After the run has ended this is a no-op.
        self.kill();
    }
}

/// Copies `Stdin` frames into the run's stdin until `StdinClosed` or the end
/// of the stream. True when the peer went away uncleanly.
async fn feed_stdin(
    recv: &mut quinn::RecvStream,
    mut stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
) -> bool {
    loop {
        let mut h = [0u8; EXEC_HEADER];
        match recv.read_exact(&mut h).await {
            Ok(()) => {}
            Err(quinn::ReadExactError::FinishedEarly(0)) => return false,
            Err(_) => return true,
        }
        let Ok((tag, len)) = ExecFrame::header(h) else {
            return true;
        };
        let mut payload = vec![0u8; len];
        if recv.read_exact(&mut payload).await.is_err() {
            return true;
        }
        match ExecFrame::from_parts(tag, payload) {
            Ok(ExecFrame::Stdin(data)) => {
                if let Some(w) = stdin.as_mut()
                    && (w.write_all(&data).await.is_err() || w.flush().await.is_err())
                {
                    // The guest closed its stdin; drop further input.
                    stdin = None;
                }
            }
            Ok(ExecFrame::StdinClosed) => {
                if let Some(mut w) = stdin.take() {
                    let _ = w.shutdown().await;
                }
            }
            // Output frames and exits do not flow this way; ignore them.
            Ok(_) => {}
            Err(_) => return true,
        }
    }
}
