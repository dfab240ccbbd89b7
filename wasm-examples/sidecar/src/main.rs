//! sidecar: polls a neighbour container over the pod's shared localhost.
//!
//! Every `$INTERVAL_MS` (default 1000) it sends `GET /healthz` to
//! `127.0.0.1:$TARGET_PORT` (default 8080) and replaces `$OUT` (default
//! `/shared/status.txt`, an emptyDir both containers mount) with
//! `polled <n> times, last status <code>`, where `<code>` is the HTTP status or
//! `error` when no response came. The file is written to `$OUT.tmp` and renamed
//! over `$OUT`, so a reader never sees half a line.

use std::env;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

/// Writes one line to stdout. Unlike `println!` it never panics: a closed or
/// full log stream must not stop the poller.
macro_rules! log {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*).and_then(|()| out.flush());
    }};
}

const TIMEOUT: Duration = Duration::from_secs(2);

fn main() {
    let interval = Duration::from_millis(env_num("INTERVAL_MS", 1000));
    let port = env_num("TARGET_PORT", 8080) as u16;
    let out = PathBuf::from(env::var("OUT").unwrap_or_else(|_| "/shared/status.txt".into()));
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    log!(
        "sidecar: polling http://{target}/healthz every {interval:?}, writing {}",
        out.display()
    );

    let mut polls: u64 = 0;
    loop {
        polls += 1;
        let status = match poll(target) {
            Ok(code) => code.to_string(),
            Err(e) => {
                log!("sidecar: poll {polls}: {e}");
                "error".to_string()
            }
        };
        let line = format!("polled {polls} times, last status {status}");
        match write_atomically(&out, format!("{line}\n").as_bytes()) {
            Ok(()) => log!("sidecar: {line}"),
            Err(e) => log!("sidecar: {line} (cannot write {}: {e})", out.display()),
        }
        thread::sleep(interval);
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    match env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("sidecar: {name}={v:?} is not a number, using {default}");
            default
        }),
        Err(_) => default,
    }
}

/// One `GET /healthz`; returns the status code of the response.
fn poll(target: SocketAddr) -> io::Result<u16> {
    let mut stream = TcpStream::connect(target)?;
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    // Read until the peer closes (it will: we asked for `Connection: close`),
    // but keep whatever arrived if it stalls after the status line.
    let mut chunk = [0u8; 512];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) if !response.is_empty() && e.kind() != io::ErrorKind::Interrupted => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if response.len() > 64 * 1024 {
            break;
        }
    }
    parse_status(&response).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "response has no HTTP status line",
        )
    })
}

fn parse_status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

fn write_atomically(path: &PathBuf, contents: &[u8]) -> io::Result<()> {
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n\r\nok"), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"garbage"), None);
        assert_eq!(parse_status(b""), None);
    }
}
