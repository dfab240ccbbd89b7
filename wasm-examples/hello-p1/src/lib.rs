//! hello-p1: a WASI preview 1 command that prints its argv and environment
//! and exits 0 (or `$EXIT_CODE`, any of 0..=255: p1's `proc_exit` carries it
//! whole). The p1 path of the node runs it; everything else is p2.
//!
//! `no_std` with no allocator: argv and env are read into a fixed buffer, so
//! the module is a few hundred bytes and imports nothing but p1 calls.

#![no_std]

use core::panic::PanicInfo;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn args_sizes_get(argc: *mut usize, buf_len: *mut usize) -> u16;
    fn args_get(argv: *mut *mut u8, buf: *mut u8) -> u16;
    fn environ_sizes_get(count: *mut usize, buf_len: *mut usize) -> u16;
    fn environ_get(environ: *mut *mut u8, buf: *mut u8) -> u16;
    fn fd_write(fd: u32, iovs: *const Ciovec, iovs_len: usize, written: *mut usize) -> u16;
    fn proc_exit(code: u32) -> !;
}

#[repr(C)]
struct Ciovec {
    buf: *const u8,
    len: usize,
}

const MAX_STRINGS: usize = 512;
const MAX_BYTES: usize = 64 * 1024;
static mut POINTERS: [*mut u8; MAX_STRINGS] = [core::ptr::null_mut(); MAX_STRINGS];
static mut BYTES: [u8; MAX_BYTES] = [0; MAX_BYTES];

fn write(fd: u32, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let iov = Ciovec {
            buf: rest.as_ptr(),
            len: rest.len(),
        };
        let mut n = 0;
        // SAFETY: `iov` points at live memory for the length given.
        if unsafe { fd_write(fd, &iov, 1, &mut n) } != 0 || n == 0 {
            return;
        }
        rest = &rest[n..];
    }
}

/// Calls `sizes`/`get` (args or environ) and hands each NUL-terminated string
/// to `each`; `false` if they do not fit the static buffers.
fn for_each_string(
    sizes: unsafe extern "C" fn(*mut usize, *mut usize) -> u16,
    get: unsafe extern "C" fn(*mut *mut u8, *mut u8) -> u16,
    mut each: impl FnMut(usize, &[u8]),
) -> bool {
    let (mut count, mut len) = (0, 0);
    // SAFETY: single-threaded command; the statics are used by nothing else
    // while `each` runs, and the host writes at most the sizes it reported,
    // which we checked against the buffers.
    unsafe {
        if sizes(&mut count, &mut len) != 0 || count > MAX_STRINGS || len > MAX_BYTES {
            return false;
        }
        let pointers = &raw mut POINTERS;
        let bytes = &raw mut BYTES;
        if get(pointers.cast(), bytes.cast()) != 0 {
            return false;
        }
        // The host lays the strings out back to back, each ended by a NUL.
        let bytes = &(&*bytes)[..len];
        for (i, string) in bytes.split(|&b| b == 0).take(count).enumerate() {
            each(i, string);
        }
    }
    true
}

fn write_number(fd: u32, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    write(fd, &digits[i..]);
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() {
    write(1, b"hello-p1: a WASI preview 1 command\n");
    let ok = for_each_string(args_sizes_get, args_get, |i, arg| {
        write(1, b"argv[");
        write_number(1, i);
        write(1, b"] = ");
        write(1, arg);
        write(1, b"\n");
    });
    let mut exit_code = 0u32;
    let ok = ok
        && for_each_string(environ_sizes_get, environ_get, |_, var| {
            write(1, b"env ");
            write(1, var);
            write(1, b"\n");
            if let Some(code) = var.strip_prefix(b"EXIT_CODE=") {
                exit_code = parse(code).unwrap_or(1);
            }
        });
    if !ok {
        write(2, b"hello-p1: argv or environment too large\n");
        exit_code = 1;
    }
    // SAFETY: p1 `proc_exit` ends the instance; it never returns.
    unsafe { proc_exit(exit_code) }
}

fn parse(digits: &[u8]) -> Option<u32> {
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    (!digits.is_empty() && n <= 255).then_some(n)
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
