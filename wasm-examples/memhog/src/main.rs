//! memhog: grows its linear memory by `$STEP_MB` MiB (default 8) every 10 ms,
//! writing to every page so nothing is left lazily unmapped, and prints the
//! running total — forever, until `limits.memory` stops it. The allocation
//! that the limit denies ends in a trap, which the node reports as OOMKilled.

use std::io::Write;
use std::time::Duration;

const PAGE: usize = 4096;

fn main() {
    let step_mb: usize = std::env::var("STEP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let step = step_mb.max(1) * 1024 * 1024;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut stdout = std::io::stdout();
    loop {
        // `vec![0; n]` may take fresh, already-zero pages without writing
        // them, so write one byte per page ourselves.
        let mut chunk = vec![0u8; step];
        for i in (0..step).step_by(PAGE) {
            chunk[i] = (i / PAGE) as u8 | 1;
        }
        std::hint::black_box(&mut chunk);
        chunks.push(chunk);
        let _ = writeln!(
            stdout,
            "memhog: allocated {} MiB",
            chunks.len() * step_mb.max(1)
        );
        let _ = stdout.flush();
        std::thread::sleep(Duration::from_millis(10));
    }
}
