//! Tests of the redb store: the `Store` contract, group commit, restart and crash safety.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tempfile::TempDir;

use super::*;

const DEADLINE: Duration = Duration::from_secs(30);

fn path(dir: &TempDir) -> PathBuf {
    dir.path().join("store.redb")
}

fn open(dir: &TempDir, watch_window: u64) -> RedbStore {
    RedbStore::open(&path(dir), watch_window).unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn kv(key: &str, value: &str, create_revision: u64, mod_revision: u64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: b(value),
        create_revision,
        mod_revision,
    }
}

fn put(kv: KeyValue, prev: Option<KeyValue>) -> Event {
    Event::Put { kv, prev }
}

async fn next(stream: &mut WatchStream) -> Option<Result<Event, StoreError>> {
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("watch produced nothing before the deadline")
}

async fn next_event(stream: &mut WatchStream) -> Event {
    next(stream).await.expect("watch ended").unwrap()
}

fn keys(list: &ListResult) -> Vec<&str> {
    list.items.iter().map(|kv| kv.key.as_str()).collect()
}

/// Checks invariant 1 on a closed file: the log covers exactly (oldest, revision], and the
/// objects agree with the last logged change of every key in it.
fn check_invariants(path: &Path) -> (Revision, Revision) {
    let db = Database::builder().create(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let revision = meta_value(&meta, META_REVISION).unwrap();
    let oldest = meta_value(&meta, META_OLDEST).unwrap();
    let changes = txn.open_table(CHANGES).unwrap();
    let mut last_change = BTreeMap::new();
    let mut expected = oldest + 1;
    for entry in changes.range::<u64>(..).unwrap() {
        let (rev, row) = entry.unwrap();
        assert_eq!(rev.value(), expected, "change log has a gap");
        expected += 1;
        let event = decode_change(rev.value(), row.value()).unwrap();
        last_change.insert(event.key().to_owned(), event);
    }
    assert_eq!(
        expected,
        revision + 1,
        "change log ends before the revision"
    );
    let objects = txn.open_table(OBJECTS).unwrap();
    for entry in objects.range::<&str>(..).unwrap() {
        let (key, row) = entry.unwrap();
        let stored = object(key.value(), row.value());
        assert!(stored.create_revision <= stored.mod_revision);
        assert!(stored.mod_revision <= revision);
        if stored.mod_revision > oldest {
            match last_change.remove(&stored.key) {
                Some(Event::Put { kv, .. }) => assert_eq!(kv, stored),
                other => panic!("{} is stored but its last change is {other:?}", stored.key),
            }
        }
    }
    for (key, event) in last_change {
        assert!(
            matches!(event, Event::Delete { .. }),
            "{key} was last put in the log but is not stored"
        );
    }
    (revision, oldest)
}

#[tokio::test]
async fn create_get_update_delete_and_their_errors() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    assert_eq!(s.revision(), 0);
    assert_eq!(s.get("a").await, Ok(None));

    let a1 = s.create("a", b("1")).await.unwrap();
    assert_eq!(a1, kv("a", "1", 1, 1));
    assert_eq!(
        s.create("a", b("again")).await,
        Err(StoreError::AlreadyExists("a".into()))
    );
    assert_eq!(s.get("a").await, Ok(Some(a1.clone())));

    let a2 = s.update("a", b("2"), Expect::Revision(1)).await.unwrap();
    assert_eq!(a2, kv("a", "2", 1, 2));
    assert_eq!(
        s.update("a", b("3"), Expect::Revision(1)).await,
        Err(StoreError::Conflict {
            key: "a".into(),
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(
        s.update("b", b("x"), Expect::Any).await,
        Err(StoreError::NotFound("b".into()))
    );
    assert_eq!(
        s.delete("b", Expect::Any).await,
        Err(StoreError::NotFound("b".into()))
    );
    assert_eq!(
        s.delete("a", Expect::Revision(1)).await,
        Err(StoreError::Conflict {
            key: "a".into(),
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(s.get("a").await, Ok(Some(a2.clone())));

    assert_eq!(s.delete("a", Expect::Revision(2)).await, Ok((a2, 3)));
    assert_eq!(s.get("a").await, Ok(None));
    assert_eq!(
        s.update("a", b("4"), Expect::Any).await,
        Err(StoreError::NotFound("a".into()))
    );
    assert_eq!(
        s.delete("a", Expect::Any).await,
        Err(StoreError::NotFound("a".into()))
    );
    // A re-created key starts a new life.
    assert_eq!(s.create("a", b("5")).await, Ok(kv("a", "5", 4, 4)));
    assert_eq!(
        s.update("a", b("6"), Expect::Any).await,
        Ok(kv("a", "6", 4, 5))
    );
    assert_eq!(s.revision(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_concurrency_lets_exactly_one_writer_win() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(open(&dir, 100));
    let base = s.create("cm", b("0")).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.spawn(async move {
            s.update("cm", b(&i.to_string()), Expect::Revision(base.mod_revision))
                .await
        });
    }
    let outcomes = tasks.join_all().await;
    let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = winners[0];
    assert_eq!(winner.mod_revision, 2);
    for outcome in &outcomes {
        if let Err(error) = outcome {
            assert_eq!(
                error,
                &StoreError::Conflict {
                    key: "cm".into(),
                    expected: 1,
                    actual: 2
                }
            );
        }
    }
    assert_eq!(s.get("cm").await, Ok(Some(winner.clone())));
    assert_eq!(s.revision(), 2);
}

#[tokio::test]
async fn list_honours_prefix_start_after_and_limit() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    for key in [
        "apps/deployments/ns1/b",
        "apps/deployments/ns1/a",
        "apps/deployments/ns2/a",
        "apps/deployments/ns1/c",
        "core/pods/ns1/x",
    ] {
        s.create(key, b(key)).await.unwrap();
    }

    let all = s.list("", None, None).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert_eq!(all.revision, 5);
    assert!(!all.more);

    let deployments = s.list("apps/deployments/", None, None).await.unwrap();
    assert_eq!(
        keys(&deployments),
        [
            "apps/deployments/ns1/a",
            "apps/deployments/ns1/b",
            "apps/deployments/ns1/c",
            "apps/deployments/ns2/a"
        ]
    );
    assert_eq!(
        deployments.items[0],
        kv("apps/deployments/ns1/a", "apps/deployments/ns1/a", 2, 2)
    );

    let page = s
        .list("apps/deployments/ns1/", None, Some(2))
        .await
        .unwrap();
    assert_eq!(
        keys(&page),
        ["apps/deployments/ns1/a", "apps/deployments/ns1/b"]
    );
    assert!(page.more);
    let rest = s
        .list(
            "apps/deployments/ns1/",
            Some("apps/deployments/ns1/b"),
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(keys(&rest), ["apps/deployments/ns1/c"]);
    assert!(!rest.more);

    // A limit that fits exactly says there is no more.
    let exact = s
        .list("apps/deployments/ns1/", None, Some(3))
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 3);
    assert!(!exact.more);
    // start_after before the prefix, or between keys that do not exist.
    let before = s
        .list("apps/deployments/ns2/", Some("apps/"), None)
        .await
        .unwrap();
    assert_eq!(keys(&before), ["apps/deployments/ns2/a"]);
    let between = s
        .list("apps/", Some("apps/deployments/ns1/bb"), None)
        .await
        .unwrap();
    assert_eq!(
        keys(&between),
        ["apps/deployments/ns1/c", "apps/deployments/ns2/a"]
    );
    let beyond = s.list("apps/", Some("apps/zzz"), None).await.unwrap();
    assert!(beyond.items.is_empty() && !beyond.more);

    let none = s.list("batch/jobs/", None, None).await.unwrap();
    assert!(none.items.is_empty());
    assert_eq!(none.revision, 5);

    s.update("core/pods/ns1/x", b("y"), Expect::Any)
        .await
        .unwrap();
    assert_eq!(s.list("apps/", None, Some(1)).await.unwrap().revision, 6);
}

#[tokio::test]
async fn revisions_strictly_increase_and_failed_writes_consume_none() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    let mut revisions = Vec::new();
    for i in 0..5 {
        let key = format!("k{i}");
        revisions.push(s.create(&key, b("v")).await.unwrap().mod_revision);
        assert!(s.create(&key, b("v")).await.is_err());
        assert!(s.update("missing", b("v"), Expect::Any).await.is_err());
        revisions.push(
            s.update(&key, b("w"), Expect::Any)
                .await
                .unwrap()
                .mod_revision,
        );
        assert!(s.delete(&key, Expect::Revision(1)).await.is_err());
    }
    assert_eq!(revisions, (1..=10).collect::<Vec<_>>());
    assert_eq!(s.revision(), 10);
    assert_eq!(s.list("", None, None).await.unwrap().revision, 10);
}

/// Writes queued together see each other, in order, and a failed one leaves no hole.
#[tokio::test]
async fn writes_queued_together_apply_in_order() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    // `join!` polls in order, so the requests are queued in this order.
    let (created, duplicate, updated, conflict, deleted, recreated) = tokio::join!(
        s.create("k", b("1")),
        s.create("k", b("dup")),
        s.update("k", b("2"), Expect::Revision(1)),
        s.update("k", b("x"), Expect::Revision(1)),
        s.delete("k", Expect::Revision(2)),
        s.create("k", b("3")),
    );
    assert_eq!(created, Ok(kv("k", "1", 1, 1)));
    assert_eq!(duplicate, Err(StoreError::AlreadyExists("k".into())));
    assert_eq!(updated, Ok(kv("k", "2", 1, 2)));
    assert_eq!(
        conflict,
        Err(StoreError::Conflict {
            key: "k".into(),
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(deleted, Ok((kv("k", "2", 1, 2), 3)));
    assert_eq!(recreated, Ok(kv("k", "3", 4, 4)));
    assert_eq!(s.revision(), 4);
}

#[tokio::test]
async fn watch_replays_from_the_middle_then_goes_live_filtered_by_prefix() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    let p1 = s.create("core/pods/ns/p1", b("1")).await.unwrap(); // 1
    s.create("core/pods/ns/p2", b("2")).await.unwrap(); // 2
    let p3 = s.create("core/pods/ns/p3", b("3")).await.unwrap(); // 3
    s.create("core/configmaps/ns/c", b("c")).await.unwrap(); // 4
    let p2 = s
        .update("core/pods/ns/p2", b("2b"), Expect::Any)
        .await
        .unwrap(); // 5

    let mut pods = s.watch("core/pods/", 2).unwrap();
    let mut everything = s.watch("", 0).unwrap();
    assert_eq!(next_event(&mut pods).await, put(p3, None));
    assert_eq!(
        next_event(&mut pods).await,
        put(p2, Some(kv("core/pods/ns/p2", "2", 2, 2)))
    );

    let p4 = s.create("core/pods/ns/p4", b("4")).await.unwrap(); // 6
    s.create("core/configmaps/ns/d", b("d")).await.unwrap(); // 7
    let (gone, revision) = s.delete("core/pods/ns/p1", Expect::Any).await.unwrap(); // 8
    assert_eq!(gone, p1);
    assert_eq!(next_event(&mut pods).await, put(p4, None));
    assert_eq!(
        next_event(&mut pods).await,
        Event::Delete {
            prev: p1,
            revision: 8
        }
    );
    assert_eq!(revision, 8);

    let mut seen = Vec::new();
    while seen.len() < 8 {
        seen.push(next_event(&mut everything).await.revision());
    }
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
    // A watch from the present sees only what comes next.
    let mut now = s.watch("", s.revision()).unwrap();
    s.create("core/pods/ns/p5", b("5")).await.unwrap();
    assert_eq!(next_event(&mut now).await.revision(), 9);
}

/// A list followed by a watch from its revision, while writers run, sees every write
/// exactly once: the list or the watch, never both, never neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_then_watch_under_concurrent_writes_has_no_gaps_or_duplicates() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(open(&dir, 100_000));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let s = s.clone();
        writers.spawn(async move {
            for i in 0..150 {
                let key = format!("k/{w}/{i:03}");
                s.create(&key, b("v")).await.unwrap();
                if i % 3 == 0 {
                    s.update(&key, b("w"), Expect::Any).await.unwrap();
                }
            }
        });
    }
    s.create("marker", b("")).await.unwrap();
    let list = s.list("k/", None, None).await.unwrap();
    let mut watch = s.watch("", list.revision).unwrap();
    writers.join_all().await;
    let end = s.revision();

    let mut revisions = Vec::new();
    let mut keys: BTreeSet<String> = list.items.iter().map(|kv| kv.key.clone()).collect();
    let listed = keys.len();
    while revisions.last() != Some(&end) {
        let event = next_event(&mut watch).await;
        revisions.push(event.revision());
        if let Event::Put { kv, prev: None } = &event
            && kv.key.starts_with("k/")
        {
            assert!(keys.insert(kv.key.clone()), "{} listed and watched", kv.key);
        }
    }
    assert_eq!(revisions, (list.revision + 1..=end).collect::<Vec<_>>());
    assert_eq!(keys.len(), 600);
    assert!(listed < 600, "the list should have been taken mid-way");
}

#[tokio::test]
async fn watch_older_than_the_window_is_compacted() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 10);
    for i in 0..30 {
        s.create(&format!("k{i:02}"), b("v")).await.unwrap();
    }
    let oldest = s.oldest_watchable();
    // The log keeps the window, and at most 10% over it.
    assert!((19..=20).contains(&oldest), "oldest {oldest}");
    assert_eq!(
        s.watch("", 0).err(),
        Some(StoreError::Compacted {
            requested: 0,
            oldest
        })
    );
    assert!(matches!(
        s.watch("", oldest - 1).err(),
        Some(StoreError::Compacted { .. })
    ));
    let mut watch = s.watch("", oldest).unwrap();
    for revision in oldest + 1..=30 {
        assert_eq!(next_event(&mut watch).await.revision(), revision);
    }

    // Compacted between `watch` and its first poll: the first item says so.
    let mut late = s.watch("", 30).unwrap();
    for i in 30..60 {
        s.create(&format!("k{i:02}"), b("v")).await.unwrap();
    }
    let oldest = s.oldest_watchable();
    assert!(oldest > 30);
    assert_eq!(
        next(&mut late).await,
        Some(Err(StoreError::Compacted {
            requested: 30,
            oldest
        }))
    );
    assert_eq!(next(&mut late).await, None);
    // The live watch kept up and is unaffected.
    for revision in 31..=60 {
        assert_eq!(next_event(&mut watch).await.revision(), revision);
    }
    drop(s);
    assert_eq!(check_invariants(&path(&dir)), (60, oldest));
}

#[tokio::test]
async fn a_watcher_that_falls_behind_gets_lagged_last() {
    let dir = TempDir::new().unwrap();
    let options = RedbOptions {
        watch_window: 100,
        watch_buffer: 4,
        ..RedbOptions::default()
    };
    let s = RedbStore::open_with(&path(&dir), options).unwrap();
    s.create("a", b("1")).await.unwrap();
    let mut slow = s.watch("", 0).unwrap();
    let mut late = s.watch("b", 0).unwrap();
    assert_eq!(next_event(&mut slow).await.revision(), 1);
    s.create("b0", b("v")).await.unwrap();
    for i in 0..9 {
        s.create(&format!("k{i}"), b("v")).await.unwrap();
    }
    // Revisions 2..=7 fell out of the 4-event buffer before `slow` read them.
    assert_eq!(next(&mut slow).await, Some(Err(StoreError::Lagged)));
    assert_eq!(next(&mut slow).await, None);

    // `late` overflowed too, but before its replay (at revision 11) ran: it owes nothing
    // that was lost and carries on live.
    assert_eq!(next_event(&mut late).await.revision(), 2);
    s.create("b1", b("v")).await.unwrap();
    assert_eq!(next_event(&mut late).await.key(), "b1");

    // Overflowing after the replay cuts off even a watch that nothing lost would match.
    for i in 0..5 {
        s.create(&format!("m{i}"), b("v")).await.unwrap();
    }
    assert_eq!(next(&mut late).await, Some(Err(StoreError::Lagged)));
}

#[tokio::test]
async fn reopening_keeps_objects_log_and_revision() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    for i in 0..5 {
        s.create(&format!("k{i}"), b(&i.to_string())).await.unwrap();
    }
    s.update("k1", b("one"), Expect::Revision(2)).await.unwrap();
    s.delete("k2", Expect::Any).await.unwrap();
    let before = s.list("", None, None).await.unwrap();
    let mut watch = s.watch("", 0).unwrap();
    let mut history = Vec::new();
    for _ in 0..7 {
        history.push(next_event(&mut watch).await);
    }
    s.close().await;
    assert_eq!(next(&mut watch).await, Some(Err(StoreError::Closed)));
    drop(s);

    let s = open(&dir, 100);
    assert_eq!(s.revision(), 7);
    assert_eq!(s.list("", None, None).await.unwrap(), before);
    let mut replay = s.watch("", 0).unwrap();
    for event in &history {
        assert_eq!(&next_event(&mut replay).await, event);
    }
    assert_eq!(s.create("k9", b("9")).await.unwrap().mod_revision, 8);
    assert_eq!(next_event(&mut replay).await.revision(), 8);
    // Dropping without `close` also commits and releases the file.
    drop(replay);
    drop(s);

    let s = open(&dir, 100);
    assert_eq!(s.revision(), 8);
    assert_eq!(s.get("k9").await.unwrap().unwrap().mod_revision, 8);
    drop(s);
    assert_eq!(check_invariants(&path(&dir)), (8, 0));
}

#[tokio::test]
async fn a_closed_store_refuses_writes_and_watches() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, 100);
    s.create("a", b("1")).await.unwrap();
    s.close().await;
    assert_eq!(s.create("b", b("2")).await, Err(StoreError::Closed));
    assert_eq!(s.delete("a", Expect::Any).await, Err(StoreError::Closed));
    assert_eq!(s.watch("", 0).err(), Some(StoreError::Closed));
    // Reads still answer until the store is dropped.
    assert_eq!(s.get("a").await.unwrap().unwrap().mod_revision, 1);
    s.close().await;
}

#[tokio::test]
async fn a_second_open_of_the_same_file_is_refused() {
    let dir = TempDir::new().unwrap();
    let _s = open(&dir, 100);
    assert!(matches!(
        RedbStore::open(&path(&dir), 100),
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(open(&dir, 10_000));
    let writers = 128;
    let barrier = Arc::new(tokio::sync::Barrier::new(writers));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..writers {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let mut revisions = Vec::new();
            for j in 0..4 {
                revisions.push(
                    s.create(&format!("k/{i}/{j}"), b("v"))
                        .await
                        .unwrap()
                        .mod_revision,
                );
            }
            revisions
        });
    }
    let mut revisions: Vec<u64> = tasks.join_all().await.into_iter().flatten().collect();
    revisions.sort_unstable();
    let writes = revisions.len() as u64;
    assert_eq!(revisions, (1..=writes).collect::<Vec<_>>());
    let commits = s.commits();
    eprintln!("{writes} writes in {commits} commits");
    assert!(
        commits * 8 <= writes,
        "{writes} writes took {commits} commits"
    );
}

/// The child half of `acknowledged_writes_survive_sigkill`: a no-op unless that test runs
/// this binary with `REGATTA_STORE_CRASH_CHILD` naming the store file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Some(path) = std::env::var_os("REGATTA_STORE_CRASH_CHILD") else {
        return;
    };
    let round = std::env::var("REGATTA_STORE_CRASH_ROUND").unwrap();
    let s = Arc::new(RedbStore::open(Path::new(&path), 1000).unwrap());
    // Bounded, so that a parent that died without killing it does not leave it running.
    let until = Instant::now() + 2 * DEADLINE;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (s, round) = (s.clone(), round.clone());
        tasks.spawn(async move {
            for i in 0.. {
                if Instant::now() > until {
                    break;
                }
                let key = format!("crash/{round}/{w}/{i}");
                let value = Bytes::from(vec![b'x'; 200 + i % 300]);
                let rev = s.create(&key, value).await.unwrap().mod_revision;
                let mut out = std::io::stdout().lock();
                writeln!(out, "ACK {key} {rev}").unwrap();
                out.flush().unwrap();
            }
        });
    }
    tasks.join_all().await;
}

/// Kills the crash child if the parent fails before doing so.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = TempDir::new().unwrap();
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    // Several rounds: each kill lands at a different point of a commit.
    for round in 0..3 {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "store::redb_store::tests::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("REGATTA_STORE_CRASH_CHILD", path(&dir))
            .env("REGATTA_STORE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let stdout = child.0.stdout.take().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let parse = |line: String, acked: &mut BTreeMap<String, u64>| {
            if let Some(ack) = line.strip_prefix("ACK ") {
                let (key, rev) = ack.split_once(' ').unwrap();
                acked.insert(key.to_owned(), rev.parse().unwrap());
                true
            } else {
                false
            }
        };
        let start = Instant::now();
        let mut this_round = 0;
        while this_round < 300 + round * 200 {
            let line = lines
                .recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
                .expect("the child stopped acknowledging writes");
            if parse(line, &mut acked) {
                this_round += 1;
            }
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        // Whatever the child printed before dying was acknowledged too.
        for line in lines.iter() {
            parse(line, &mut acked);
        }
        reader.join().unwrap();

        let (revision, _) = check_invariants(&path(&dir));
        let max_acked = acked.values().copied().max().unwrap();
        assert!(
            revision >= max_acked,
            "revision {revision} < acknowledged {max_acked}"
        );
        let s = open(&dir, 1000);
        assert_eq!(s.revision(), revision);
        let stored: BTreeMap<String, u64> = s
            .list("crash/", None, None)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|kv| (kv.key, kv.mod_revision))
            .collect();
        for (key, rev) in &acked {
            assert_eq!(stored.get(key), Some(rev), "acknowledged {key} lost");
        }
        eprintln!(
            "round {round}: {} acknowledged, {} stored, revision {revision}",
            acked.len(),
            stored.len()
        );
        // Writes continue from the recovered revision.
        let next = s
            .create(&format!("after/{round}"), b("v"))
            .await
            .unwrap()
            .mod_revision;
        assert_eq!(next, revision + 1);
        s.close().await;
    }
}

/// Not a test: measures acknowledged creates per second (1 KiB values unless
/// `REGATTA_BENCH_VALUE_SIZE` says otherwise). Run with
/// `cargo test -p regatta-orchestrator --lib store::redb_store::tests::create_throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn create_throughput() {
    let size: usize = std::env::var("REGATTA_BENCH_VALUE_SIZE")
        .map(|s| s.parse().unwrap())
        .unwrap_or(1024);
    let value = Bytes::from(vec![b'x'; size]);
    for (writers, per_writer) in [(1usize, 500usize), (16, 250), (128, 100)] {
        let dir = TempDir::new().unwrap();
        let s = Arc::new(open(&dir, DEFAULT_WATCH_WINDOW));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..writers {
            let (s, value) = (s.clone(), value.clone());
            tasks.spawn(async move {
                for i in 0..per_writer {
                    s.create(&format!("bench/{w}/{i}"), value.clone())
                        .await
                        .unwrap();
                }
            });
        }
        tasks.join_all().await;
        let elapsed = start.elapsed();
        let writes = (writers * per_writer) as f64;
        println!(
            "{writers:>4} writers: {writes} creates in {elapsed:.2?}: {:.0} creates/s, {:.1} per commit",
            writes / elapsed.as_secs_f64(),
            writes / s.commits() as f64
        );
    }
}
