//! Nothing acknowledged is lost when the orchestrator is killed, and watches
//! resume from a kept resourceVersion (410 Gone for a compacted one).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regatta_e2e::{Cluster, wait_for};
use serde_json::{Value, json};

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn kill_9_during_concurrent_creates_loses_nothing_acknowledged() {
    let mut c = Cluster::start().unwrap();
    let acked = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let attempted = Arc::new(Mutex::new(HashSet::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for t in 0..8 {
        let http = c.http();
        let (acked, attempted, stop, count) = (
            acked.clone(),
            attempted.clone(),
            stop.clone(),
            count.clone(),
        );
        threads.push(std::thread::spawn(move || {
            for i in 0..10_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("c{t}-{i}");
                attempted.lock().unwrap().insert(name.clone());
                let body =
                    json!({"metadata": {"name": name}, "data": {"payload": "x".repeat(512)}});
                let req = http
                    .client
                    .post(format!("{}{}", http.base, CM))
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send();
                match req {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let v: Value = r.json().unwrap();
                        acked.lock().unwrap().push((name, rv(&v)));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
        }));
    }
    wait_for("300 acknowledged creates", Duration::from_secs(60), || {
        (count.load(Ordering::SeqCst) >= 300).then_some(())
    })
    .unwrap();
    c.kill9_and_restart().unwrap();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();
    let (code, list) = c.http().get(CM);
    assert_eq!(code, 200);
    let items = list["items"].as_array().unwrap();
    let present: HashSet<String> = items
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    for (name, _) in &acked {
        assert!(
            present.contains(name),
            "acknowledged {name} is missing after kill -9"
        );
    }
    for o in items {
        let name = o["metadata"]["name"].as_str().unwrap();
        assert!(attempted.contains(name), "{name} was never written");
        assert_eq!(
            o["data"]["payload"].as_str().unwrap().len(),
            512,
            "{name} is half-written"
        );
    }
    // resourceVersions stay monotonic across the restart.
    let max_acked = acked.iter().map(|(_, r)| *r).max().unwrap();
    let (code, fresh) = c
        .http()
        .post_json(CM, &json!({"metadata": {"name": "after-restart"}}));
    assert_eq!(code, 201);
    assert!(rv(&fresh) > max_acked, "{} <= {max_acked}", rv(&fresh));
    assert!(rv(&list) >= max_acked);
}

/// Reads the first watch event of `path`.
fn first_event(c: &Cluster, path: &str) -> Value {
    let http = c.http();
    let resp = http
        .client
        .get(format!("{}{}", http.base, path))
        .timeout(Duration::from_secs(20))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut line = String::new();
    BufReader::new(resp).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn watch_resumes_from_kept_version_and_410_when_compacted() {
    let mut c = Cluster::start_with(&["--watch-window", "50"]).unwrap();
    let http = c.http();
    let (_, first) = http.post_json(CM, &json!({"metadata": {"name": "w0"}}));
    let from = rv(&first);
    let (_, second) = http.post_json(CM, &json!({"metadata": {"name": "w1"}}));
    c.kill9_and_restart().unwrap();

    // Resume after a restart: the next change after `from` is w1's creation.
    let ev = first_event(&c, &format!("{CM}?watch=1&resourceVersion={from}"));
    assert_eq!(ev["type"], "ADDED");
    assert_eq!(ev["object"]["metadata"]["name"], "w1");
    assert_eq!(rv(&ev["object"]), rv(&second));

    let http = c.http();
    for i in 0..120 {
        let (code, _) = http.post_json(CM, &json!({"metadata": {"name": format!("f{i}")}}));
        assert_eq!(code, 201);
    }
    let ev = first_event(&c, &format!("{CM}?watch=1&resourceVersion={from}"));
    assert_eq!(ev["type"], "ERROR", "{ev}");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    assert!(
        ev["object"]["message"]
            .as_str()
            .unwrap()
            .contains("too old resource version"),
        "{ev}"
    );
}

/// Reads watch events from `path` until the server ends the stream.
fn all_events(c: &Cluster, path: &str) -> Vec<Value> {
    let http = c.http();
    let resp = http
        .client
        .get(format!("{}{}", http.base, path))
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap();
    BufReader::new(resp)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

#[test]
fn watch_selector_transitions_bookmarks_and_timeout() {
    let c = Cluster::start().unwrap();
    let http = c.http();
    let (_, cm) = http.post_json(
        CM,
        &json!({"metadata": {"name": "sel", "labels": {"app": "a"}}}),
    );
    let from = rv(&cm);
    let patch = |labels: Value| {
        let body = serde_json::to_vec(&json!({"metadata": {"labels": labels}})).unwrap();
        let (code, _) = http.send(
            "PATCH",
            &format!("{CM}/sel"),
            Some("application/merge-patch+json"),
            body,
        );
        assert_eq!(code, 200);
    };
    patch(json!({"app": "b"}));
    patch(json!({"app": "a"}));
    patch(json!({"app": "a", "x": "1"}));
    let (code, _) = http.send("DELETE", &format!("{CM}/sel"), None, vec![]);
    assert_eq!(code, 200);
    // Leaving the selector is a DELETED, coming back an ADDED, for this watcher.
    let evs = all_events(
        &c,
        &format!("{CM}?watch=1&resourceVersion={from}&labelSelector=app%3Da&timeoutSeconds=1"),
    );
    let kinds: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["DELETED", "ADDED", "MODIFIED", "DELETED"]);
    // A bookmark carries the latest resourceVersion; the stream ends at timeoutSeconds.
    let started = std::time::Instant::now();
    let evs = all_events(
        &c,
        &format!(
            "{CM}?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        ),
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let bookmark = evs
        .iter()
        .find(|e| e["type"] == "BOOKMARK")
        .expect("a bookmark");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(rv(&bookmark["object"]) > from);
}
