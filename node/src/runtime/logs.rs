//! Container log files: a guest's stdout/stderr turned into line-timestamped
//! files, one per container per restart, like CRI's:
//! `<RFC3339Nano> stdout|stderr <line>\n`.
//!
//! Owns: line splitting (a line longer than [`MAX_LINE`] is cut into several;
//! an unterminated last line is written when the container ends), a bounded
//! in-memory queue, and one writer task per stream on the pod's runtime that
//! appends to the file through tokio's blocking pool.
//!
//! Invariants: a guest never blocks the pod thread on disk I/O — a full queue
//! makes the guest's own write wait (WASI backpressure) instead; a failing
//! disk loses log lines, never the container.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Longest line kept whole; longer output is split (CRI uses 16 KiB too).
pub(super) const MAX_LINE: usize = 16 * 1024;
/// Queued bytes beyond which guest writes wait for the writer.
const QUEUE_LIMIT: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

struct Queue {
    /// Formatted, complete lines waiting for the writer.
    pending: Vec<u8>,
    /// The current line, not yet terminated.
    partial: Vec<u8>,
    /// Set by `close`: no more guest output; the writer drains and stops.
    closed: bool,
    /// Set when the file cannot be written: further output is dropped.
    broken: bool,
    /// `AsyncWrite` callers waiting for space.
    wakers: Vec<Waker>,
}

struct Shared {
    stream: Stream,
    queue: Mutex<Queue>,
    /// Wakes the writer when lines are queued or the sink closes.
    data: Notify,
    /// Wakes guest writes waiting for space.
    space: Notify,
}

impl Shared {
    fn space_left(queue: &Queue) -> usize {
        if queue.broken {
            QUEUE_LIMIT
        } else {
            QUEUE_LIMIT.saturating_sub(queue.pending.len())
        }
    }

    fn push(&self, queue: &mut Queue, bytes: &[u8]) {
        if queue.broken {
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    queue.partial.extend_from_slice(&rest[..end]);
                    self.emit(queue);
                    rest = &rest[end + 1..];
                }
                None => {
                    queue.partial.extend_from_slice(rest);
                    rest = &[];
                }
            }
            while queue.partial.len() > MAX_LINE {
                let tail = queue.partial.split_off(MAX_LINE);
                self.emit(queue);
                queue.partial = tail;
            }
        }
        self.data.notify_one();
    }

    /// Moves `partial` into `pending` as one timestamped line.
    fn emit(&self, queue: &mut Queue) {
        let timestamp = Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true);
        let line = std::mem::take(&mut queue.partial);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        queue.pending.extend_from_slice(timestamp.as_bytes());
        queue.pending.push(b' ');
        queue
            .pending
            .extend_from_slice(self.stream.as_str().as_bytes());
        queue.pending.push(b' ');
        queue.pending.extend_from_slice(line);
        queue.pending.push(b'\n');
    }
}

/// One stream of one container run, writing to its log file.
pub(super) struct LogSink {
    shared: Arc<Shared>,
    writer: JoinHandle<()>,
}

impl LogSink {
    /// Opens (creating or appending to) `path` and starts the writer task on
    /// the current runtime.
    pub(super) async fn open(path: &Path, stream: Stream) -> std::io::Result<LogSink> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        let shared = Arc::new(Shared {
            stream,
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                partial: Vec::new(),
                closed: false,
                broken: false,
                wakers: Vec::new(),
            }),
            data: Notify::new(),
            space: Notify::new(),
        });
        let writer = tokio::spawn(write_loop(shared.clone(), file, path.display().to_string()));
        Ok(LogSink { shared, writer })
    }

    /// What the guest's WASI context writes to.
    pub(super) fn stream(&self) -> GuestOutput {
        GuestOutput {
            shared: self.shared.clone(),
        }
    }

    /// Ends the stream: writes an unterminated last line, drains the queue
    /// and waits for the file writes to finish.
    pub(super) async fn close(self) {
        {
            let mut queue = self.shared.queue.lock().unwrap();
            if !queue.partial.is_empty() && !queue.broken {
                self.shared.emit(&mut queue);
            }
            queue.closed = true;
        }
        self.shared.data.notify_one();
        let _ = self.writer.await;
    }
}

async fn write_loop(shared: Arc<Shared>, mut file: tokio::fs::File, path: String) {
    loop {
        let (chunk, closed) = {
            let mut queue = shared.queue.lock().unwrap();
            (std::mem::take(&mut queue.pending), queue.closed)
        };
        if chunk.is_empty() {
            if closed {
                break;
            }
            shared.data.notified().await;
            continue;
        }
        let written = match file.write_all(&chunk).await {
            Ok(()) => file.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::warn!(path, error = %e, "container log file is not writable; dropping output");
            shared.queue.lock().unwrap().broken = true;
        }
        let wakers = std::mem::take(&mut shared.queue.lock().unwrap().wakers);
        wakers.into_iter().for_each(Waker::wake);
        shared.space.notify_waiters();
    }
    let wakers = std::mem::take(&mut shared.queue.lock().unwrap().wakers);
    wakers.into_iter().for_each(Waker::wake);
    shared.space.notify_waiters();
}

/// The guest's end of a [`LogSink`]: a WASI stdout/stderr stream.
#[derive(Clone)]
pub(super) struct GuestOutput {
    shared: Arc<Shared>,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {
        loop {
            let notified = self.shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let queue = self.shared.queue.lock().unwrap();
                if queue.closed || Shared::space_left(&queue) > 0 {
                    return;
                }
            }
            notified.await;
        }
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut queue = self.shared.queue.lock().unwrap();
        if queue.closed {
            return Err(StreamError::Closed);
        }
        self.shared.push(&mut queue, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Complete lines are already queued for the writer; a partial line
        // waits for its newline (or the end of the container).
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let queue = self.shared.queue.lock().unwrap();
        if queue.closed {
            return Err(StreamError::Closed);
        }
        Ok(Shared::space_left(&queue))
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut queue = self.shared.queue.lock().unwrap();
        if queue.closed {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        let space = Shared::space_left(&queue);
        if space == 0 {
            queue.wakers.push(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(space);
        self.shared.push(&mut queue, &buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What a reader of a log file wants (the `pods/log` query, resolved).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Prefix each line with its RFC 3339 timestamp (`--timestamps`).
    pub timestamps: bool,
    /// Only the last this many lines of what is already there (`--tail`).
    pub tail_lines: Option<u64>,
    /// Only lines logged at or after this instant (`--since`, `--since-time`).
    pub since: Option<chrono::DateTime<Utc>>,
    /// Stop after this many bytes of output (`--limit-bytes`).
    pub limit_bytes: Option<u64>,
}

/// Turns the lines of a log file into what `kubectl logs` prints: the guest's
/// line, without our timestamp and stream name unless `timestamps`; filtered
/// by `since`; cut at `limit_bytes`.
#[derive(Debug)]
pub struct LogFormatter {
    opts: LogOptions,
    written: u64,
}

impl LogFormatter {
    pub fn new(opts: LogOptions) -> LogFormatter {
        LogFormatter { opts, written: 0 }
    }

    /// Whether `limit_bytes` has been reached: nothing more will be output.
    pub fn exhausted(&self) -> bool {
        self.opts.limit_bytes.is_some_and(|l| self.written >= l)
    }

    /// The byte offset in `content` where its last `n` complete lines begin
    /// (`content` holds complete lines only).
    pub fn tail_start(content: &[u8], n: u64) -> usize {
        if n == 0 {
            return content.len();
        }
        let mut seen = 0u64;
        // Skip the final newline, then count newlines backwards.
        let body = content.strip_suffix(b"\n").unwrap_or(content);
        for (i, b) in body.iter().enumerate().rev() {
            if *b == b'\n' {
                seen += 1;
                if seen == n {
                    return i + 1;
                }
            }
        }
        0
    }

    /// Formats complete lines (each ending in `\n`) of a log file, appending
    /// the output to `out`. A line not in the CRI shape is passed through.
    pub fn format(&mut self, lines: &[u8], out: &mut Vec<u8>) {
        for raw in lines.split_inclusive(|b| *b == b'\n') {
            if self.exhausted() {
                return;
            }
            let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
            let (ts, content) = split_line(raw);
            if let (Some(since), Some(ts)) = (self.opts.since, ts)
                && ts < since
            {
                continue;
            }
            let start = out.len();
            if self.opts.timestamps
                && let Some(ts) = ts
            {
                out.extend_from_slice(ts.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(content);
            out.push(b'\n');
            let len = (out.len() - start) as u64;
            if let Some(limit) = self.opts.limit_bytes {
                let room = limit - self.written;
                if len > room {
                    out.truncate(start + room as usize);
                    self.written = limit;
                    return;
                }
            }
            self.written += len;
        }
    }
}

/// `<RFC3339Nano> stdout|stderr <line>` → (timestamp, line).
fn split_line(raw: &[u8]) -> (Option<chrono::DateTime<Utc>>, &[u8]) {
    let mut parts = raw.splitn(3, |b| *b == b' ');
    let (Some(ts), Some(stream), Some(content)) = (parts.next(), parts.next(), parts.next()) else {
        return (None, raw);
    };
    if stream != b"stdout" && stream != b"stderr" {
        return (None, raw);
    }
    match std::str::from_utf8(ts)
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => (Some(t.with_timezone(&Utc)), content),
        None => (None, raw),
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    const FILE: &[u8] = b"2026-01-01T00:00:01.000000000Z stdout one\n\
2026-01-01T00:00:02.000000000Z stderr two words\n\
2026-01-01T00:00:03.000000000Z stdout three\n";

    fn render(opts: LogOptions, tail: Option<u64>) -> String {
        let start = tail.map_or(0, |n| LogFormatter::tail_start(FILE, n));
        let mut f = LogFormatter::new(opts);
        let mut out = Vec::new();
        f.format(&FILE[start..], &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_lose_our_prefix_unless_timestamps() {
        assert_eq!(
            render(LogOptions::default(), None),
            "one\ntwo words\nthree\n"
        );
        assert_eq!(
            render(
                LogOptions {
                    timestamps: true,
                    ..Default::default()
                },
                Some(1)
            ),
            "2026-01-01T00:00:03.000000000Z three\n"
        );
    }

    #[test]
    fn tail_since_and_limit() {
        assert_eq!(render(LogOptions::default(), Some(2)), "two words\nthree\n");
        assert_eq!(render(LogOptions::default(), Some(0)), "");
        assert_eq!(
            render(LogOptions::default(), Some(10)),
            "one\ntwo words\nthree\n"
        );
        let since = "2026-01-01T00:00:02Z".parse().unwrap();
        assert_eq!(
            render(
                LogOptions {
                    since: Some(since),
                    ..Default::default()
                },
                None
            ),
            "two words\nthree\n"
        );
        let mut f = LogFormatter::new(LogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        });
        let mut out = Vec::new();
        f.format(FILE, &mut out);
        assert_eq!(out, b"one\ntw");
        assert!(f.exhausted());
    }

    #[test]
    fn foreign_lines_pass_through() {
        let mut f = LogFormatter::new(LogOptions::default());
        let mut out = Vec::new();
        f.format(b"not a cri line\n", &mut out);
        assert_eq!(out, b"not a cri line\n");
    }
}
