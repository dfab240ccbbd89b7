//! Command mode, for `kubectl exec`, exec probes, lifecycle hooks and init
//! containers: when `argv[0]` (busybox-style: `kubectl exec web -- cat /x`) or
//! `argv[1]` (`kubectl exec web -- web cat /x`) names one of these, the module
//! runs it and exits instead of serving. The node runs an exec as a new
//! instance of the container's module, in the pod's netns, with its env and
//! volumes, so these see what the server sees.
//!
//! - `cat [FILE…]`   files to stdout; no FILE (or `-`) copies stdin
//! - `ls [DIR]`      names in DIR (default `.` — the first preopen), one a line
//! - `env`           the environment, `NAME=value` a line
//! - `echo ARGS…`    ARGS joined by spaces
//! - `exit CODE`     exits with CODE (0..=255)
//! - `stderr ARGS…`  ARGS to stderr
//! - `wget URL`      `http://host:port/path` GET (HTTP/1.0), body to stdout
//! - `test -f|-e P`  exits 0 iff P exists
//! - `touch P`       creates P if missing
//! - `sleep SECS`    sleeps
//!
//! Exit codes: 0 ok, 1 a failed operation (message on stderr), 2 bad usage.

use std::io::{self, Read, Write};

const COMMANDS: &[&str] = &[
    "cat", "ls", "env", "echo", "stderr", "exit", "wget", "test", "touch", "sleep",
];

/// Runs the command `argv[0]` or `argv[1]` names, if any; its exit code then.
pub fn run(args: &[String]) -> Option<u8> {
    let at = (0..2).find(|&i| args.get(i).is_some_and(|a| COMMANDS.contains(&a.as_str())))?;
    let cmd = &args[at];
    let rest = &args[at + 1..];
    let code = match cmd.as_str() {
        "test" => match rest {
            [flag, path] if flag == "-f" || flag == "-e" => {
                u8::from(!std::path::Path::new(path).exists())
            }
            _ => {
                eprintln!("usage: test -f|-e PATH");
                2
            }
        },
        "touch" => match rest {
            [path] => match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("touch: {path}: {e}");
                    1
                }
            },
            _ => {
                eprintln!("usage: touch PATH");
                2
            }
        },
        "sleep" => match rest.first().map(|s| s.parse::<u64>()) {
            Some(Ok(s)) => {
                std::thread::sleep(std::time::Duration::from_secs(s));
                0
            }
            _ => {
                eprintln!("sleep: invalid time interval {:?}", rest.first());
                1
            }
        },
        "cat" => cat(rest),
        "ls" => ls(rest),
        "env" => {
            for (k, v) in std::env::vars() {
                println!("{k}={v}");
            }
            0
        }
        "echo" => {
            println!("{}", rest.join(" "));
            0
        }
        "stderr" => {
            eprintln!("{}", rest.join(" "));
            0
        }
        "exit" => match rest.first().map(|c| c.parse::<u8>()) {
            Some(Ok(c)) => c,
            _ => {
                eprintln!("usage: exit CODE (0..=255)");
                2
            }
        },
        "wget" => wget(rest),
        _ => return None,
    };
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    Some(code)
}

fn cat(files: &[String]) -> u8 {
    let mut out = io::stdout().lock();
    if files.is_empty() || files == ["-"] {
        let mut buf = [0u8; 8192];
        let mut stdin = io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return 0,
                Ok(n) => {
                    if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                        return 1;
                    }
                }
                Err(e) => {
                    eprintln!("cat: stdin: {e}");
                    return 1;
                }
            }
        }
    }
    let mut code = 0;
    for f in files {
        match std::fs::read(f) {
            Ok(bytes) => {
                let _ = out.write_all(&bytes);
            }
            Err(e) => {
                eprintln!("cat: {f}: {e}");
                code = 1;
            }
        }
    }
    code
}

fn ls(dirs: &[String]) -> u8 {
    let dir = dirs.first().map(String::as_str).unwrap_or(".");
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for n in names {
                println!("{n}");
            }
            0
        }
        Err(e) => {
            eprintln!("ls: {dir}: {e}");
            1
        }
    }
}

fn wget(args: &[String]) -> u8 {
    let Some(url) = args.first() else {
        eprintln!("usage: wget http://HOST[:PORT]/PATH");
        return 2;
    };
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("wget: only http:// URLs are supported");
        return 2;
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let mut conn = match std::net::TcpStream::connect(&addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wget: connecting to {addr}: {e}");
            return 1;
        }
    };
    let host = hostport.split(':').next().unwrap_or(hostport);
    let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let mut resp = Vec::new();
    if let Err(e) = conn
        .write_all(req.as_bytes())
        .and_then(|()| conn.read_to_end(&mut resp))
    {
        eprintln!("wget: {addr}: {e}");
        return 1;
    }
    let body = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&resp[..], |i| &resp[i + 4..]);
    let _ = io::stdout().write_all(body);
    0
}
