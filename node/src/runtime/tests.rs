//! Tests for the pod runtime: guests written inline in WAT, hand-assembled
//! binaries for the image path, and the `wasm-examples` components when they
//! have been built (skipped with a message otherwise). Servers bind
//! 127.0.0.1 only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A p1 command whose `_start` does nothing: the smallest runnable image.
const MINIMAL_P1: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1, layer 0
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export "_start"
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
];

/// A valid component with no exports at all.
const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

const WASI: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
"#;

fn p1(body: &str) -> String {
    format!("(module {WASI} {body})")
}

fn hello_wat() -> String {
    p1(r#"
      (memory (export "memory") 1)
      (data (i32.const 100) "hello\nworld\n")
      (data (i32.const 200) "no newline")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100))
        (i32.store (i32.const 4) (i32.const 12))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 0) (i32.const 200))
        (i32.store (i32.const 4) (i32.const 10))
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
    "#)
}

fn exit_wat(code: i32) -> String {
    p1(&format!(
        r#"(memory (export "memory") 1)
           (func (export "_start") (call $proc_exit (i32.const {code})))"#
    ))
}

/// Prints every argv element, then every `K=V`, one per line.
fn args_env_wat() -> String {
    p1(r#"
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func $dump (param $buf i32) (param $len i32)
        (local $i i32)
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
            (if (i32.eqz (i32.load8_u (i32.add (local.get $buf) (local.get $i))))
              (then (i32.store8 (i32.add (local.get $buf) (local.get $i)) (i32.const 10))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (i32.store (i32.const 0) (local.get $buf))
        (i32.store (i32.const 4) (local.get $len))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
      (func (export "_start")
        (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
        (drop (call $args_get (i32.const 1024) (i32.const 8192)))
        (call $dump (i32.const 8192) (i32.load (i32.const 20)))
        (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
        (drop (call $environ_get (i32.const 1024) (i32.const 16384)))
        (call $dump (i32.const 16384) (i32.load (i32.const 20))))
    "#)
}

/// Creates `new.txt` in the first preopen and writes to it; exits
/// 10 + errno if that fails.
fn create_file_wat() -> String {
    p1(r#"
      (import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 100) "new.txt")
      (data (i32.const 120) "x\n")
      (func (export "_start")
        (local $err i32)
        (local.set $err (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 7)
          (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200)))
        (if (local.get $err) (then (call $proc_exit (i32.add (i32.const 10) (local.get $err)))))
        (i32.store (i32.const 0) (i32.const 120))
        (i32.store (i32.const 4) (i32.const 2))
        (local.set $err (call $fd_write (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (if (local.get $err) (then (call $proc_exit (i32.add (i32.const 10) (local.get $err))))))
    "#)
}

/// Grows memory a MiB at a time until refused, then traps, as an allocator
/// that cannot get memory aborts.
fn memhog_wat() -> String {
    p1(r#"
      (memory (export "memory") 1)
      (func (export "_start")
        (loop $grow
          (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        unreachable)
    "#)
}

/// Prints "spinning" and then loops forever without calling the host.
fn spinner_wat() -> String {
    p1(r#"
      (memory (export "memory") 1)
      (data (i32.const 100) "spinning\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100))
        (i32.store (i32.const 4) (i32.const 9))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (loop $spin (br $spin)))
    "#)
}

/// Sleeps an hour in `poll_oneoff` (blocked in the host, not in Wasm).
fn sleeper_wat() -> String {
    p1(r#"
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (i32.store8 (i32.const 8) (i32.const 0))
        (i32.store (i32.const 16) (i32.const 1))
        (i64.store (i32.const 24) (i64.const 3600000000000))
        (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))
    "#)
}

/// `iterations` rounds of xorshift, then exit 0: a fixed amount of CPU work.
fn work_wat(iterations: u64) -> String {
    p1(&format!(
        r#"(memory (export "memory") 1)
        (func (export "_start")
          (local $i i64) (local $x i64)
          (local.set $x (i64.const 88172645463325252))
          (loop $l
            (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
            (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
            (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br_if $l (i64.lt_u (local.get $i) (i64.const {iterations}))))
          (if (i64.eqz (local.get $x)) (then unreachable)))"#
    ))
}

fn test_config(cache_dir: Option<PathBuf>) -> EngineConfig {
    EngineConfig {
        max_pods: 8,
        max_memory_bytes: 64 << 20,
        cache_dir,
        http_bind: std::net::Ipv4Addr::LOCALHOST.into(),
        ..EngineConfig::default()
    }
}

fn engine() -> Arc<NodeEngine> {
    NodeEngine::new(test_config(None)).unwrap()
}

fn spec(name: &str, module: Arc<Compiled>, dir: &Path) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        module,
        argv: ContainerSpec::argv_for(name, &[], &[]),
        env: Vec::new(),
        preopens: Vec::new(),
        stdout: dir.join(format!("{name}/0.log")),
        stderr: dir.join(format!("{name}/0.log")),
        memory_limit: None,
        cpu_limit_millis: None,
        http_port: None,
    }
}

/// Starts `spec` in a fresh pod and waits for it, with a generous deadline.
async fn run(engine: &Arc<NodeEngine>, spec: ContainerSpec) -> ExitStatus {
    let pod = Pod::spawn(engine.clone(), "test", None).await.unwrap();
    let handle = pod.start(spec).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("container finished within 60 s")
        .unwrap();
    pod.shutdown().await;
    status
}

/// `(stream, text)` per log line, checking each timestamp is RFC 3339 with
/// nanoseconds.
fn log_lines(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let timestamp = parts.next().unwrap();
            let stream = parts.next().expect("a stream name").to_string();
            let text = parts.next().unwrap_or("").to_string();
            chrono::DateTime::parse_from_rfc3339(timestamp)
                .unwrap_or_else(|e| panic!("bad timestamp {timestamp:?}: {e}"));
            let fraction = timestamp.split('.').nth(1).expect("fractional seconds");
            assert_eq!(
                fraction.len(),
                "123456789Z".len(),
                "nanoseconds in {timestamp}"
            );
            (stream, text)
        })
        .collect()
}

async fn wait_for_log(path: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if log_lines(path)
            .iter()
            .any(|(_, text)| text.contains(needle))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared in {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---- engine ---------------------------------------------------------------

#[tokio::test]
async fn default_engine_sizing_constructs_on_this_machine() {
    // 1000 pods × 4: the full-size pool must fit this machine's address space.
    let engine = NodeEngine::new(EngineConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let module = engine.compile_wat("exit", &exit_wat(0));
    assert_eq!(
        run(&engine, spec("c", module, dir.path())).await,
        ExitStatus::Exited(0)
    );
}

#[test]
fn argv_follows_the_kubernetes_entrypoint_rule() {
    let args = owned(&["a", "b"]);
    assert_eq!(
        ContainerSpec::argv_for("web", &[], &args),
        owned(&["web", "a", "b"])
    );
    assert_eq!(
        ContainerSpec::argv_for("web", &owned(&["/bin/x", "-v"]), &args),
        owned(&["/bin/x", "-v", "a", "b"])
    );
}

#[test]
fn exit_statuses_map_to_kubernetes_codes_and_reasons() {
    let table = [
        (ExitStatus::Exited(0), 0, "Completed"),
        (ExitStatus::Exited(3), 3, "Error"),
        (ExitStatus::OOMKilled, 137, "OOMKilled"),
        (ExitStatus::Killed, 137, "Error"),
        (ExitStatus::Trapped("unreachable".into()), 134, "Error"),
    ];
    for (status, code, reason) in table {
        assert_eq!(status.exit_code(), code, "{status:?}");
        assert_eq!(status.reason(), reason, "{status:?}");
    }
}

// ---- WASI p1 commands -----------------------------------------------------

#[tokio::test]
async fn stdout_and_stderr_become_timestamped_log_lines() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        "hello",
        engine.compile_wat("hello", &hello_wat()),
        dir.path(),
    );
    let log = spec.stdout.clone();
    assert_eq!(run(&engine, spec).await, ExitStatus::Exited(0));
    let lines = log_lines(&log);
    assert_eq!(
        lines,
        vec![
            ("stdout".to_string(), "hello".to_string()),
            ("stdout".to_string(), "world".to_string()),
            // The unterminated last line is written when the container ends.
            ("stderr".to_string(), "no newline".to_string()),
        ]
    );
}

#[tokio::test]
async fn proc_exit_code_is_the_exit_status() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let status = run(
        &engine,
        spec("c", engine.compile_wat("exit", &exit_wat(3)), dir.path()),
    )
    .await;
    assert_eq!(status, ExitStatus::Exited(3));
    assert_eq!(status.exit_code(), 3);
}

#[tokio::test]
async fn argv_and_env_reach_the_guest() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(
        "dump",
        engine.compile_wat("dump", &args_env_wat()),
        dir.path(),
    );
    spec.argv = ContainerSpec::argv_for("dump", &[], &owned(&["--flag", "two words"]));
    spec.env = vec![
        ("GREETING".into(), "hi there".into()),
        ("EMPTY".into(), String::new()),
    ];
    let log = spec.stdout.clone();
    assert_eq!(run(&engine, spec).await, ExitStatus::Exited(0));
    let texts: Vec<String> = log_lines(&log).into_iter().map(|(_, text)| text).collect();
    assert_eq!(
        texts,
        owned(&["dump", "--flag", "two words", "GREETING=hi there", "EMPTY="])
    );
}

#[tokio::test]
async fn read_only_preopens_cannot_be_written() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let module = engine.compile_wat("create", &create_file_wat());
    for read_only in [true, false] {
        let volume = tempfile::tempdir().unwrap();
        let mut spec = spec("writer", module.clone(), dir.path());
        spec.preopens = vec![Preopen {
            host: volume.path().to_path_buf(),
            guest: "/data".into(),
            read_only,
        }];
        let status = run(&engine, spec).await;
        let created = volume.path().join("new.txt");
        if read_only {
            assert!(
                matches!(status, ExitStatus::Exited(code) if code > 10),
                "read-only mount must refuse the write: {status:?}"
            );
            assert!(!created.exists());
        } else {
            assert_eq!(status, ExitStatus::Exited(0));
            assert_eq!(std::fs::read_to_string(created).unwrap(), "x\n");
        }
    }
}

#[tokio::test]
async fn a_missing_volume_directory_is_a_host_error() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec("c", engine.compile_wat("exit", &exit_wat(0)), dir.path());
    spec.preopens = vec![Preopen {
        host: dir.path().join("does-not-exist"),
        guest: "/data".into(),
        read_only: false,
    }];
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let error = pod.start(spec).unwrap().wait().await.unwrap_err();
    assert!(matches!(error, RuntimeError::Preopen { .. }), "{error}");
    assert!(error.to_string().contains("does-not-exist"), "{error}");
    pod.shutdown().await;
}

#[tokio::test]
async fn a_trap_is_reported_with_its_message() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let wat = p1(r#"(memory (export "memory") 1) (func (export "_start") unreachable)"#);
    let status = run(
        &engine,
        spec("c", engine.compile_wat("trap", &wat), dir.path()),
    )
    .await;
    let ExitStatus::Trapped(message) = &status else {
        panic!("expected a trap, got {status:?}");
    };
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(status.exit_code(), 134);
}

#[tokio::test]
async fn memory_over_the_limit_is_oom_killed() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(
        "hog",
        engine.compile_wat("memhog", &memhog_wat()),
        dir.path(),
    );
    spec.memory_limit = Some(4 << 20);
    let status = run(&engine, spec.clone()).await;
    assert_eq!(status, ExitStatus::OOMKilled);
    assert_eq!(status.exit_code(), 137);
    // Without a limit the pool's per-memory ceiling applies, just the same.
    spec.memory_limit = None;
    assert_eq!(run(&engine, spec).await, ExitStatus::OOMKilled);
}

#[tokio::test]
async fn initial_memory_over_the_limit_is_oom_killed() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    // 2 MiB of initial memory against a 1 MiB limit.
    let wat = p1(r#"(memory (export "memory") 32) (func (export "_start"))"#);
    let mut spec = spec("big", engine.compile_wat("big", &wat), dir.path());
    spec.memory_limit = Some(1 << 20);
    assert_eq!(run(&engine, spec).await, ExitStatus::OOMKilled);
}

#[tokio::test]
async fn kill_stops_a_spinning_guest_promptly() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        "spin",
        engine.compile_wat("spinner", &spinner_wat()),
        dir.path(),
    );
    let log = spec.stdout.clone();
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let handle = pod.start(spec).unwrap();
    wait_for_log(&log, "spinning").await;
    assert!(handle.try_wait().is_none(), "the spinner is still running");
    let killed_at = Instant::now();
    handle.kill();
    let status = tokio::time::timeout(Duration::from_secs(5), handle.wait())
        .await
        .expect("killed within 5 s")
        .unwrap();
    assert_eq!(status, ExitStatus::Killed);
    eprintln!("kill of a spinning guest took {:?}", killed_at.elapsed());
    pod.shutdown().await;
}

#[tokio::test]
async fn kill_stops_a_guest_blocked_in_the_host() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let handle = pod
        .start(spec(
            "sleep",
            engine.compile_wat("sleeper", &sleeper_wat()),
            dir.path(),
        ))
        .unwrap();
    handle.kill();
    let status = tokio::time::timeout(Duration::from_secs(5), handle.wait())
        .await
        .expect("killed within 5 s")
        .unwrap();
    assert_eq!(status, ExitStatus::Killed);
    pod.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_every_container_of_the_pod() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let spinner = pod
        .start(spec(
            "spin",
            engine.compile_wat("spinner", &spinner_wat()),
            dir.path(),
        ))
        .unwrap();
    let sleeper = pod
        .start(spec(
            "sleep",
            engine.compile_wat("sleeper", &sleeper_wat()),
            dir.path(),
        ))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), pod.shutdown())
        .await
        .expect("shutdown within 10 s");
    assert_eq!(spinner.try_wait(), Some(Ok(ExitStatus::Killed)));
    assert_eq!(sleeper.try_wait(), Some(Ok(ExitStatus::Killed)));
    let late = pod.start(spec(
        "late",
        engine.compile_wat("exit", &exit_wat(0)),
        dir.path(),
    ));
    assert!(matches!(late, Err(RuntimeError::PodGone { .. })));
}

#[tokio::test]
async fn pre_run_runs_on_the_pod_thread_and_its_failure_fails_the_pod() {
    let engine = engine();
    let (tx, rx) = std::sync::mpsc::channel();
    let hook: PreRun = Box::new(move || {
        tx.send(std::thread::current().name().map(str::to_string))
            .unwrap();
        Ok(())
    });
    let pod = Pod::spawn(engine.clone(), "named", Some(hook))
        .await
        .unwrap();
    assert_eq!(rx.recv().unwrap().as_deref(), Some("pod-named"));
    pod.shutdown().await;

    let failing: PreRun = Box::new(|| Err(std::io::Error::other("no such netns")));
    let error = Pod::spawn(engine.clone(), "bad", Some(failing))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, RuntimeError::Sandbox { .. }), "{error}");
    assert!(error.to_string().contains("no such netns"), "{error}");
}

/// Calibrates a work unit so the assertions below scale with the machine.
async fn time_work(
    engine: &Arc<NodeEngine>,
    dir: &Path,
    module: &Arc<Compiled>,
    cpu: Option<u32>,
) -> Duration {
    let mut spec = spec("work", module.clone(), dir);
    spec.cpu_limit_millis = cpu;
    let started = Instant::now();
    assert_eq!(run(engine, spec).await, ExitStatus::Exited(0));
    started.elapsed()
}

#[tokio::test]
async fn cpu_limit_throttles_a_busy_guest() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let module = engine.compile_wat("work", &work_wat(30_000_000));
    let free = time_work(&engine, dir.path(), &module, None).await;
    let throttled = time_work(&engine, dir.path(), &module, Some(100)).await;
    eprintln!("work unit: unthrottled {free:?}, at 100m {throttled:?}");
    // 100m should take ~10× as long; allow a wide margin for noisy machines.
    assert!(
        throttled > free * 3,
        "100m must slow a busy guest down: unthrottled {free:?}, throttled {throttled:?}"
    );
}

#[tokio::test]
async fn a_throttled_spinner_does_not_starve_its_neighbour() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let work = engine.compile_wat("work", &work_wat(30_000_000));
    let alone = time_work(&engine, dir.path(), &work, None).await;

    // Same pod, hence the same thread: the spinner at 100m and a neighbour.
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let mut spinner = spec(
        "spin",
        engine.compile_wat("spinner", &spinner_wat()),
        dir.path(),
    );
    spinner.cpu_limit_millis = Some(100);
    let spinner = pod.start(spinner).unwrap();
    let started = Instant::now();
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let neighbour = pod.start(spec("work", work.clone(), dir.path())).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), neighbour.wait())
            .await
            .expect("the neighbour was starved")
            .unwrap();
        assert_eq!(status, ExitStatus::Exited(0));
        rounds.push(started.elapsed());
    }
    eprintln!(
        "neighbour work unit alone {alone:?}; beside a 100m spinner, 3 units done at {rounds:?}"
    );
    assert!(spinner.try_wait().is_none(), "the spinner keeps running");
    pod.shutdown().await;
    assert_eq!(spinner.try_wait(), Some(Ok(ExitStatus::Killed)));
}

#[tokio::test]
async fn instantiation_time_of_a_small_module() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let module = engine.compile_wat("exit", &exit_wat(0));
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let runs = 50;
    let started = Instant::now();
    for i in 0..runs {
        let handle = pod
            .start(spec(&format!("c{i}"), module.clone(), dir.path()))
            .unwrap();
        assert_eq!(handle.wait().await.unwrap(), ExitStatus::Exited(0));
    }
    eprintln!(
        "start → exit of a small p1 module (log files, WASI ctx, instantiate, run): {:?} per run",
        started.elapsed() / runs
    );
    pod.shutdown().await;
}

// ---- images ---------------------------------------------------------------

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    format!("file://{}", path.display())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn file_images_pull_and_detect_a_p1_command() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let url = write(dir.path(), "m.wasm", MINIMAL_P1);
    let compiled = engine.pull(&url).await.unwrap();
    assert_eq!(compiled.kind(), ModuleKind::P1Command);
    assert_eq!(
        compiled.image_id(),
        format!("sha256:{}", sha256(MINIMAL_P1))
    );
    let status = run(&engine, spec("m", compiled, dir.path())).await;
    assert_eq!(status, ExitStatus::Exited(0));
}

#[tokio::test]
async fn a_pinned_digest_is_verified() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let url = write(dir.path(), "m.wasm", MINIMAL_P1);
    let right = sha256(MINIMAL_P1);
    let wrong = sha256(b"something else");
    assert!(engine.pull(&format!("{url}@sha256:{right}")).await.is_ok());

    let error = engine
        .pull(&format!("{url}@sha256:{wrong}"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImageError::DigestMismatch { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&right) && message.contains(&wrong),
        "{message}"
    );
    assert_eq!(error.reason(), "ErrImagePull");
}

#[tokio::test]
async fn bytes_that_are_not_wasm_are_refused() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("text.wasm", &b"#!/bin/sh\necho hi\n"[..]),
        ("short.wasm", &b"\0as"[..]),
        ("wat.wasm", &b"(module)"[..]),
    ] {
        let error = engine
            .pull(&write(dir.path(), name, bytes))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ImageError::NotWasm { .. }),
            "{name}: {error}"
        );
        assert!(error.to_string().contains(name), "{error}");
        assert_eq!(error.reason(), "InvalidImage");
    }
}

#[tokio::test]
async fn wasm_without_a_supported_entry_point_is_refused() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let error = engine
        .pull(&write(dir.path(), "c.wasm", EMPTY_COMPONENT))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ImageError::Unsupported {
                shape: "component",
                ..
            }
        ),
        "{error}"
    );
    let library = [&MINIMAL_P1[..18], &[0x07, 0x01, 0x00], &MINIMAL_P1[30..]].concat();
    let error = engine
        .pull(&write(dir.path(), "lib.wasm", &library))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no `_start`"), "{error}");
    let mut corrupt = MINIMAL_P1.to_vec();
    corrupt[35] = 0xff; // the body's `end` becomes an invalid opcode
    let error = engine
        .pull(&write(dir.path(), "bad.wasm", &corrupt))
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::Compile { .. }), "{error}");
}

#[test]
fn image_references_are_validated() {
    let pin = "0".repeat(64);
    let ok = [
        "file:///var/lib/x.wasm".to_string(),
        "https://example.com/m.wasm".to_string(),
        format!("http://127.0.0.1:8080/m.wasm@sha256:{pin}"),
    ];
    for image in ok {
        ImageRef::parse(&image).unwrap_or_else(|e| panic!("{image}: {e}"));
    }
    assert_eq!(
        ImageRef::parse(&format!("file:///x.wasm@sha256:{pin}"))
            .unwrap()
            .digest(),
        Some(pin.as_str())
    );
    for image in [
        "nginx:latest",
        "file://relative/x.wasm",
        "http://",
        "https://:443/x.wasm",
        "file:///x.wasm@sha256:abc",
        &format!("file:///x.wasm@sha256:{}", "A".repeat(64)),
    ] {
        let error = ImageRef::parse(image).unwrap_err();
        assert_eq!(error.reason(), "InvalidImageName", "{image}");
        assert!(!error.is_retryable());
    }
}

/// Serves `GET /module.wasm` with `body` and 404 for anything else, on
/// 127.0.0.1. Returns the base URL.
async fn serve_http(body: &'static [u8]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let found = head.starts_with(b"GET /module.wasm ");
                let (status, body) = if found {
                    ("200 OK", body)
                } else {
                    ("404 Not Found", &b"nope"[..])
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.write_all(body).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_images_pull_and_a_404_names_the_url() {
    let engine = engine();
    let base = serve_http(MINIMAL_P1).await;
    let compiled = engine
        .pull(&format!("{base}/module.wasm@sha256:{}", sha256(MINIMAL_P1)))
        .await
        .unwrap();
    assert_eq!(compiled.kind(), ModuleKind::P1Command);

    let missing = format!("{base}/missing.wasm");
    let error = engine.pull(&missing).await.unwrap_err();
    assert!(matches!(error, ImageError::Pull { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&missing) && message.contains("404"),
        "{message}"
    );
    assert_eq!(error.reason(), "ErrImagePull");
}

// ---- module cache ---------------------------------------------------------

fn example(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wasm-examples/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} is not built (run wasm-examples/build.sh)",
            path.display()
        );
        None
    }
}

#[tokio::test]
async fn compiled_modules_are_cached_on_disk_and_shared_in_memory() {
    let cache = tempfile::tempdir().unwrap();
    let images = tempfile::tempdir().unwrap();
    // A real program if the examples are built (for meaningful timings).
    let bytes = match example("http-hello") {
        Some(path) => std::fs::read(path).unwrap(),
        None => MINIMAL_P1.to_vec(),
    };
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let url = write(images.path(), "m.wasm", bytes);

    let engine = NodeEngine::new(test_config(Some(cache.path().to_path_buf()))).unwrap();
    let started = Instant::now();
    let first = engine.pull(&url).await.unwrap();
    let cold = started.elapsed();
    let started = Instant::now();
    let again = engine.pull(&url).await.unwrap();
    let shared = started.elapsed();
    assert!(
        Arc::ptr_eq(&first, &again),
        "a second pod shares the compiled image"
    );
    assert_eq!(
        engine.cache_stats(),
        CacheStats {
            memory_hits: 1,
            disk_hits: 0,
            compiles: 1
        }
    );
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].to_string_lossy().starts_with(&sha256(bytes)),
        "{entries:?}"
    );
    drop((first, again, engine));

    // A restarted node loads the artifact instead of compiling.
    let engine = NodeEngine::new(test_config(Some(cache.path().to_path_buf()))).unwrap();
    let started = Instant::now();
    let loaded = engine.pull(&url).await.unwrap();
    let warm = started.elapsed();
    assert_eq!(
        engine.cache_stats(),
        CacheStats {
            memory_hits: 0,
            disk_hits: 1,
            compiles: 0
        }
    );
    eprintln!(
        "pull of a {}-byte image: cold compile {cold:?}, disk cache hit {warm:?}, in-memory hit {shared:?}",
        bytes.len()
    );
    if loaded.kind() == ModuleKind::P1Command {
        let dir = tempfile::tempdir().unwrap();
        let status = run(&engine, spec("m", loaded.clone(), dir.path())).await;
        assert_eq!(status, ExitStatus::Exited(0));
    }

    // A corrupt entry is replaced, not trusted. (Replaced by rename, as the
    // cache itself does: rewriting a mapped artifact in place would be
    // undefined behaviour for any engine still using it.)
    drop((loaded, engine));
    let entry = cache.path().join(&entries[0]);
    let garbage = cache.path().join("garbage");
    std::fs::write(&garbage, b"garbage").unwrap();
    std::fs::rename(&garbage, &entry).unwrap();
    let engine = NodeEngine::new(test_config(Some(cache.path().to_path_buf()))).unwrap();
    engine.pull(&url).await.unwrap();
    assert_eq!(engine.cache_stats().compiles, 1);
    assert_ne!(std::fs::read(&entry).unwrap(), b"garbage");
}

// ---- wasm-examples (WASI p2 components) -----------------------------------

async fn pull_example(engine: &NodeEngine, name: &str) -> Option<Arc<Compiled>> {
    let path = example(name)?;
    Some(
        engine
            .pull(&format!("file://{}", path.display()))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn example_crasher_exits_with_its_code_and_logs_both_streams() {
    let engine = engine();
    let Some(module) = pull_example(&engine, "crasher").await else {
        return;
    };
    assert_eq!(module.kind(), ModuleKind::P2Command);
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec("crasher", module, dir.path());
    spec.env = vec![("EXIT_CODE".into(), "3".into())];
    let log = spec.stdout.clone();
    assert_eq!(run(&engine, spec).await, ExitStatus::Exited(3));
    let lines = log_lines(&log);
    assert!(
        lines
            .iter()
            .any(|(s, t)| s == "stdout" && t.contains("exit with code 3")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(s, t)| s == "stderr" && t.contains("stderr")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn example_pi_reads_its_args() {
    let engine = engine();
    let Some(module) = pull_example(&engine, "pi").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec("pi", module, dir.path());
    spec.argv = ContainerSpec::argv_for("pi", &[], &owned(&["30"]));
    let log = spec.stdout.clone();
    assert_eq!(run(&engine, spec).await, ExitStatus::Exited(0));
    assert_eq!(
        log_lines(&log),
        vec![(
            "stdout".to_string(),
            "3.14159265358979323846264338327".to_string()
        )]
    );
}

#[tokio::test]
async fn example_memhog_is_oom_killed() {
    let engine = engine();
    let Some(module) = pull_example(&engine, "memhog").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec("memhog", module, dir.path());
    spec.memory_limit = Some(32 << 20);
    let log = spec.stdout.clone();
    assert_eq!(run(&engine, spec).await, ExitStatus::OOMKilled);
    assert!(log_lines(&log).iter().any(|(_, t)| t.contains("allocated")));
}

#[tokio::test]
async fn example_spinner_is_killed_promptly() {
    let engine = engine();
    let Some(module) = pull_example(&engine, "spinner").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = spec("spinner", module, dir.path());
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let handle = pod.start(spec).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(handle.try_wait().is_none());
    handle.kill();
    let status = tokio::time::timeout(Duration::from_secs(5), handle.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, ExitStatus::Killed);
    pod.shutdown().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut socket = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(socket) => break socket,
            Err(e) => {
                assert!(Instant::now() < deadline, "nothing listens on {port}: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn example_http_proxy_is_served_one_instance_per_request() {
    let engine = engine();
    let Some(module) = pull_example(&engine, "http-proxy").await else {
        return;
    };
    assert_eq!(module.kind(), ModuleKind::HttpProxy);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut spec = spec("proxy", module, dir.path());
    spec.http_port = Some(port);
    spec.env = vec![("GREETING".into(), "ahoy".into())];
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let handle = pod.start(spec).unwrap();

    let response = http_get(port, "/env/GREETING").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.trim_end().ends_with("\r\n\r\nahoy"), "{response}");
    let response = http_get(port, "/env/NOPE").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    let started = Instant::now();
    let requests = 20;
    for _ in 0..requests {
        let response = http_get(port, "/hello").await;
        assert!(
            response.contains("hello from a wasi:http component"),
            "{response}"
        );
    }
    eprintln!(
        "wasi:http request (new connection + new instance): {:?} each",
        started.elapsed() / requests
    );

    assert!(handle.try_wait().is_none(), "a server runs until stopped");
    handle.kill();
    assert_eq!(handle.wait().await.unwrap(), ExitStatus::Killed);
    pod.shutdown().await;
}

#[tokio::test]
async fn a_proxy_without_a_port_is_a_host_error() {
    let engine = engine();
    let Some(module) = pull_example(&engine, "http-proxy").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pod = Pod::spawn(engine.clone(), "p", None).await.unwrap();
    let error = pod
        .start(spec("proxy", module, dir.path()))
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert!(matches!(error, RuntimeError::Serve { .. }), "{error}");
    pod.shutdown().await;
}

/// Copies stdin to stdout until EOF, writes "err\n" to stderr, exits 5.
fn cat_wat() -> String {
    p1(r#"
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 300) "err\n")
      (func (export "_start")
        (block $eof
          (loop $more
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.const 4096))
            (br_if $eof (i32.ne (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 0)))
            (br_if $eof (i32.eqz (i32.load (i32.const 8))))
            (i32.store (i32.const 4) (i32.load (i32.const 8)))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (br $more)))
        (i32.store (i32.const 0) (i32.const 300))
        (i32.store (i32.const 4) (i32.const 4))
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.const 5)))
    "#)
}

#[tokio::test]
async fn a_piped_run_streams_stdin_stdout_stderr_and_writes_no_log() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec("c", engine.compile_wat("cat", &cat_wat()), dir.path());
    let log = spec.stdout.clone();
    let pod = Pod::spawn(engine.clone(), "test", None).await.unwrap();
    let (stdin_guest, mut stdin) = tokio::io::duplex(1024);
    let (mut stdout, stdout_guest) = tokio::io::duplex(1024);
    let (mut stderr, stderr_guest) = tokio::io::duplex(1024);
    let handle = pod
        .start_piped(
            spec,
            PipedStdio {
                stdin: Some(Box::new(stdin_guest)),
                stdout: Box::new(stdout_guest),
                stderr: Box::new(stderr_guest),
            },
        )
        .unwrap();
    stdin.write_all(b"one\ntwo").await.unwrap();
    drop(stdin);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let read = async {
        stdout.read_to_end(&mut out).await.unwrap();
        stderr.read_to_end(&mut err).await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the pipes reach EOF when the run ends");
    assert_eq!(out, b"one\ntwo");
    assert_eq!(err, b"err\n");
    assert_eq!(handle.wait().await, Ok(ExitStatus::Exited(5)));
    assert!(!log.exists(), "a piped run writes no log file");
    pod.shutdown().await;
}

#[tokio::test]
async fn a_piped_run_without_stdin_sees_eof() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec("c", engine.compile_wat("cat", &cat_wat()), dir.path());
    let pod = Pod::spawn(engine.clone(), "test", None).await.unwrap();
    let handle = pod
        .start_piped(
            spec,
            PipedStdio {
                stdin: None,
                stdout: Box::new(tokio::io::sink()),
                stderr: Box::new(tokio::io::sink()),
            },
        )
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("finished")
        .unwrap();
    assert_eq!(status, ExitStatus::Exited(5));
    pod.shutdown().await;
}
