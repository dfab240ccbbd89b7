//! crasher: prints one line to stdout and one to stderr, waits `$DELAY_MS`
//! (default 0) and exits with `$EXIT_CODE` (default 1, 0..=255). Drives restart
//! policies, CrashLoopBackOff and `kubectl logs --previous` in tests.
//!
//! WASI 0.2's `exit` carries only ok/err, so std's `process::exit(3)` would
//! reach the host as 1. We call `wasi:cli/exit#exit-with-code` instead, stable
//! since WASI 0.2.12 (wasmtime 48 links it by default; older wasmtimes only
//! with `-S cli-exit-with-code`).

use std::io::Write;
use std::time::Duration;

fn main() {
    let code: u8 = env_num("EXIT_CODE", 1);
    let delay: u64 = env_num("DELAY_MS", 0);
    println!("crasher: will exit with code {code} after {delay} ms");
    eprintln!("crasher: this line goes to stderr");
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    wasi::cli::exit::exit_with_code(code);
    // Only reached on a host whose exit-with-code returns; fall back to ok/err.
    std::process::exit(i32::from(code));
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
