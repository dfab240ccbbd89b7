//! spinner: burns CPU forever (an xorshift loop the optimiser cannot drop) and
//! prints a heartbeat every 10^8 iterations, so a test can compare heartbeat
//! rates with and without `limits.cpu`. Never yields to the host on its own:
//! only epoch interruption can preempt or stop it.

use std::io::Write;

const BEAT: u64 = 100_000_000;

fn main() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut beats: u64 = 0;
    let mut stdout = std::io::stdout();
    loop {
        for _ in 0..BEAT {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        beats += 1;
        let _ = writeln!(
            stdout,
            "spinner: heartbeat {beats} ({}e8 iterations, state {:016x})",
            beats,
            std::hint::black_box(x)
        );
        let _ = stdout.flush();
    }
}
