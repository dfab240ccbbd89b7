//! http-hello: a one-thread HTTP/1.1 server, run as a WASI p2 command.
//!
//! Listens on `0.0.0.0:$PORT` (default 8080) with `std::net`, which on
//! wasm32-wasip2 goes through wasi-libc to `wasi:sockets`, and serves
//! connections one after another (wasip2 has no threads):
//!
//! - `GET /`            → `Hello from $POD_NAME ($POD_IP): $GREETING`
//! - `GET /healthz`     → `ok`
//! - `GET /file/<name>` → the file `<name>` under `$SITE_DIR` (default `/site`)
//! - `GET /shared`      → `/shared/status.txt`, written by the sidecar example
//! - `GET /ready`       → `ready`, or 503 while `$PROBE_DIR/unready` exists
//!
//! `/healthz` answers 500 while `$PROBE_DIR/unhealthy` exists, so a test can
//! fail a liveness or readiness probe by creating a file in an emptyDir.
//! Run with argv `test -f PATH`, `touch PATH` or `sleep SECONDS` (as exec
//! probes and lifecycle hooks do) it does just that and exits instead of
//! serving; see `commands.rs`.
//!
//! Every response closes its connection, so one slow or broken client costs at
//! most one read timeout and a bad request gets a 400, never a crash.

use std::env;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Largest request head we read; anything bigger is answered with 431.
/// Writes one line to stdout. Unlike `println!` it never panics: a closed or
/// full log stream must not stop the server.
macro_rules! log {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*).and_then(|()| out.flush());
    }};
}

const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const SHARED_STATUS: &str = "/shared/status.txt";

struct Config {
    pod_name: String,
    pod_ip: String,
    greeting: String,
    site_dir: PathBuf,
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Self {
        let mut body = body.into().into_bytes();
        if body.last() != Some(&b'\n') {
            body.push(b'\n');
        }
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

enum Head {
    /// A request line we understood: method and path (query stripped, decoded).
    Request { method: String, path: String },
    /// Something we answer with this status instead.
    Reject(u16),
    /// The client closed before sending a request line.
    Closed,
}

mod commands;

fn main() {
    let args: Vec<String> = env::args().collect();
    if let Some(code) = commands::run(&args) {
        // std's exit carries only success/failure on wasip2.
        wasi::cli::exit::exit_with_code(code);
    }
    let port: u16 = match env::var("PORT") {
        Ok(p) => match p.parse() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("http-hello: PORT={p:?} is not a port number (1-65535)");
                std::process::exit(2);
            }
        },
        Err(_) => 8080,
    };
    let config = Config {
        pod_name: env_or("POD_NAME", "unknown"),
        pod_ip: env_or("POD_IP", "unknown"),
        greeting: env_or("GREETING", "hello"),
        site_dir: PathBuf::from(env_or("SITE_DIR", "/site")),
    };
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("http-hello: cannot listen on 0.0.0.0:{port}: {e}");
            std::process::exit(1);
        }
    };
    log!(
        "http-hello: pod {} ({}) listening on 0.0.0.0:{port}, site dir {}",
        config.pod_name,
        config.pod_ip,
        config.site_dir.display()
    );
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                if let Err(e) = serve(&config, stream) {
                    eprintln!("http-hello: connection: {e}");
                }
            }
            Err(e) => eprintln!("http-hello: accept: {e}"),
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_string())
}

fn serve(config: &Config, mut stream: TcpStream) -> io::Result<()> {
    // Not every WASI host supports socket timeouts; without one we still serve.
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let (method, path, response) = match read_head(&mut stream) {
        Ok(Head::Request { method, path }) => {
            let response = route(config, &method, &path);
            (method, path, response)
        }
        Ok(Head::Reject(status)) => (
            "-".into(),
            "-".into(),
            Response::text(status, reason(status)),
        ),
        Ok(Head::Closed) => return Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            ("-".into(), "-".into(), Response::text(408, reason(408)))
        }
        Err(e) => return Err(e),
    };
    log!("{peer} {method} {path} {}", response.status);
    write_response(&mut stream, &method, &response)?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Reads up to the blank line that ends the head and parses its request line.
fn read_head(stream: &mut TcpStream) -> io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n")
            .map(|i| i + 4)
            .or_else(|| find(&buf, b"\n\n").map(|i| i + 2))
        {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return Ok(Head::Reject(431));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(if buf.is_empty() {
                Head::Closed
            } else {
                Head::Reject(400)
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Ok(Head::Reject(400));
    };
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Head::Reject(400));
    };
    if !version.starts_with("HTTP/1.")
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Ok(Head::Reject(400));
    }
    if !target.starts_with('/') {
        return Ok(Head::Reject(400));
    }
    let raw_path = target.split(['?', '#']).next().unwrap_or("/");
    let Some(path) = percent_decode(raw_path) else {
        return Ok(Head::Reject(400));
    };
    Ok(Head::Request {
        method: method.to_string(),
        path,
    })
}

fn route(config: &Config, method: &str, path: &str) -> Response {
    if method != "GET" && method != "HEAD" {
        return Response::text(405, reason(405));
    }
    match path {
        "/" => Response::text(
            200,
            format!(
                "Hello from {} ({}): {}",
                config.pod_name, config.pod_ip, config.greeting
            ),
        ),
        "/healthz" | "/ready" => probe_route(path),
        "/shared" => serve_file(Path::new(SHARED_STATUS)),
        _ => match path.strip_prefix("/file/") {
            Some(name) => match safe_relative(name) {
                Some(rel) => serve_file(&config.site_dir.join(rel)),
                None => Response::text(400, format!("bad file name {name:?}")),
            },
            None => Response::text(404, format!("no route for {path}")),
        },
    }
}

/// `/healthz` and `/ready`: healthy and ready unless `$PROBE_DIR` holds
/// `unhealthy` (→ 500 for both) or `unready` (→ 503 for `/ready`).
fn probe_route(path: &str) -> Response {
    let flag = |name: &str| {
        env::var_os("PROBE_DIR").is_some_and(|dir| Path::new(&dir).join(name).exists())
    };
    if flag("unhealthy") {
        return Response::text(500, "unhealthy");
    }
    if path == "/ready" {
        if flag("unready") {
            return Response::text(503, "not ready");
        }
        return Response::text(200, "ready");
    }
    Response::text(200, "ok")
}

/// `name` as a path below the site directory: no `..`, no root, not empty.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    let ok = !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| path.to_path_buf())
}

fn serve_file(path: &Path) -> Response {
    match fs::read(path) {
        Ok(body) => Response {
            status: 200,
            content_type: content_type(path),
            body,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Response::text(404, format!("{} not found", path.display()))
        }
        Err(e) => Response::text(500, format!("cannot read {}: {e}", path.display())),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn write_response(stream: &mut TcpStream, method: &str, r: &Response) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&r.body)?;
    }
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_below_the_site_dir() {
        for (name, ok) in [
            ("index.html", true),
            ("a/b.txt", true),
            ("../etc/passwd", false),
            ("a/../../b", false),
            ("/etc/passwd", false),
            ("", false),
        ] {
            assert_eq!(safe_relative(name).is_some(), ok, "{name}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/file/a%20b").as_deref(), Some("/file/a b"));
        assert_eq!(percent_decode("/%2e%2e/x").as_deref(), Some("/../x"));
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%4"), None);
    }
}
