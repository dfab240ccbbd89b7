//! pi: prints the first N significant digits of π (`3.1415…`) and exits 0.
//!
//! N is argv[1] (default 100), so a Job's `args: ["200"]` asks for 200. The
//! digits come from the Rabinowitz–Wagon spigot: π is held as one big number
//! in the mixed radix (1/3, 2/5, 3/7, …), an array of small limbs that we
//! multiply by 10 and carry through by hand to release one decimal digit at a
//! time; no floating point and no bignum crate. The last digits of a spigot
//! can wait on a carry, so we run a few digits past N and cut.

use std::io::{self, Write};

const GUARD_DIGITS: usize = 10;

fn main() {
    let arg = std::env::args().nth(1);
    let n: usize = match arg.as_deref().map(str::parse) {
        None => 100,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            eprintln!(
                "pi: argument {:?} must be a number of digits >= 1",
                arg.unwrap_or_default()
            );
            std::process::exit(2);
        }
    };
    let digits = pi_digits(n);
    let mut text = String::with_capacity(n + 2);
    for (i, d) in digits.iter().enumerate() {
        text.push(char::from(b'0' + d));
        if i == 0 && n > 1 {
            text.push('.');
        }
    }
    let mut out = io::stdout().lock();
    if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
        std::process::exit(1);
    }
}

/// The first `n` decimal digits of π, most significant first.
fn pi_digits(n: usize) -> Vec<u8> {
    let want = n + GUARD_DIGITS;
    let len = want * 10 / 3 + 1;
    // limbs[i] is the digit of radix position i+1, whose base is i / (2i+1).
    let mut limbs = vec![2u64; len];
    let mut out: Vec<u8> = Vec::with_capacity(want + 1);
    // A released digit may still get a carry from the next one, so it is held
    // back (with any run of 9s after it) until a digit below 9 arrives.
    let mut held: Option<u8> = None;
    let mut nines = 0usize;
    for _ in 0..want {
        let mut carry = 0u64;
        for i in (1..=len as u64).rev() {
            let x = limbs[i as usize - 1] * 10 + carry * i;
            let base = 2 * i - 1;
            limbs[i as usize - 1] = x % base;
            carry = x / base;
        }
        limbs[0] = carry % 10;
        let q = carry / 10;
        match q {
            9 => nines += 1,
            10 => {
                out.push(held.map_or(1, |h| h + 1));
                out.extend(std::iter::repeat_n(0, nines));
                held = Some(0);
                nines = 0;
            }
            _ => {
                out.extend(held);
                out.extend(std::iter::repeat_n(9, nines));
                held = Some(q as u8);
                nines = 0;
            }
        }
    }
    out.extend(held);
    out.extend(std::iter::repeat_n(9, nines));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fifty_digits() {
        let expected = "31415926535897932384626433832795028841971693993751";
        let got: String = pi_digits(50).iter().map(|d| char::from(b'0' + d)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn through_the_feynman_point() {
        // Digits 762..767 after the point are 999999: the carry logic's test.
        let got = pi_digits(800);
        assert_eq!(&got[762..768], &[9, 9, 9, 9, 9, 9]);
        assert_eq!(got[768], 8);
    }
}
