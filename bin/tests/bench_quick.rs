//! `hive bench all --quick` end to end: every workload runs at tiny sizes against real
//! stores (a `hive server` process, and etcd in a build with the `etcd` feature) and
//! leaves a JSON document with every section filled with plausible figures. Nothing here
//! is about speed: a figure only has to be there, finite and positive where it counts
//! something that happened.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The number at `path` (`/`-separated keys) in `v`, or a failure naming what is missing.
fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for key in path.split('/') {
        cur = match key.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[key],
        };
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {cur}"))
}

fn positive(v: &Value, path: &str) {
    let n = num(v, path);
    assert!(n.is_finite() && n > 0.0, "{path} = {n}");
}

fn section<'a>(all: &'a Value, name: &str) -> &'a Value {
    all["results"]
        .as_array()
        .expect("all.json has a results list")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} section in all.json"))
}

/// Every workload of `hive bench all --quick` runs and reports non-zero figures; with
/// the `etcd` feature, etcd is measured beside Hive in the same run with ratios.
#[test]
fn bench_all_quick_fills_every_section_with_real_figures() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("results");
    let data = tmp.path().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hive"));
    cmd.args(["bench", "all", "--quick", "--out-dir"])
        .arg(&out)
        .arg("--data-dir")
        .arg(&data)
        .env("HIVE_LOG", "warn");
    let etcd = cfg!(feature = "etcd");
    if !etcd {
        cmd.arg("--skip-etcd");
    }
    let run = cmd.output().expect("hive bench all runs");
    assert!(
        run.status.success(),
        "hive bench all --quick failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(out.join("all.json")).expect("all.json written");
    let all: Value = serde_json::from_str(&text).expect("all.json parses");
    assert_eq!(all["benchmark"], "all");
    assert!(all["command"]
        .as_str()
        .unwrap()
        .contains("bench all --quick"));
    positive(&all, "machine/cores");

    for s in all["results"].as_array().unwrap() {
        let file = s["file"].as_str().expect("each section names its file");
        assert!(Path::new(file).exists(), "{file}");
    }

    let c = &section(&all, "ceilings")["result"]["results"];
    for p in [
        "fdatasync_append/p50_ms",
        "udp_loopback/mb_per_sec",
        "quic_stream_64k/mb_per_sec",
        "memcpy/gb_per_sec",
    ] {
        positive(c, p);
    }

    let store = &section(&all, "store")["result"]["results"];
    let cases = store["cases"].as_array().expect("store cases");
    assert!(!cases.is_empty());
    for case in cases {
        positive(case, "puts_per_sec");
        positive(case, "latency/p50_ms");
        if etcd {
            positive(case, "etcd/puts_per_sec");
            positive(case, "ratio_puts_per_sec");
        }
    }

    let t = &section(&all, "transport")["result"]["results"];
    positive(t, "rpc/0/calls_per_sec");
    positive(t, "udp/mb_per_sec");

    let w = &section(&all, "watch")["result"]["results"];
    let cases = w["cases"].as_array().expect("watch cases");
    assert!(cases.len() >= 2, "the grid and the one-per-connection row");
    let sides: &[&str] = if etcd { &["hive", "etcd"] } else { &["hive"] };
    for case in cases {
        for side in sides {
            let m = &case[*side];
            assert!(
                m["failed"].is_null(),
                "{side} failed: {} (case {case})",
                m["failed"]
            );
            for p in [
                "puts",
                "events_delivered",
                "delivered_events_per_sec",
                "delivered_bytes_per_sec",
                "latency/p99_ms",
                "server_rss_bytes",
            ] {
                positive(m, p);
            }
            assert!(
                num(m, "events_delivered") <= num(m, "events_expected"),
                "{side}: more events than puts x watchers: {m}"
            );
            assert!(num(m, "server_cpu_seconds") >= 0.0, "{m}");
        }
        if etcd {
            positive(case, "ratio_events_per_sec");
        }
    }

    let idle = &section(&all, "idle")["result"]["results"];
    for side in sides {
        positive(&idle[*side], "create_seconds");
        positive(&idle[*side], "server_rss_after_bytes");
        assert_eq!(num(&idle[*side], "watchers"), 200.0);
    }

    let rest = &section(&all, "rest")["result"]["results"];
    assert_eq!(rest["http_version"], "HTTP/1.1");
    positive(rest, "pod_request_bytes");
    positive(rest, "pod_response_bytes");
    let crud = rest["crud"].as_array().expect("rest crud cases");
    assert_eq!(crud.len(), 2, "concurrency 1 and 4: {crud:?}");
    for case in crud {
        for verb in ["create", "get", "list"] {
            let v = &case[verb];
            assert_eq!(num(v, "errors"), 0.0, "{verb}: {case}");
            positive(v, "ops_per_sec");
            positive(v, "latency/p50_ms");
            assert!(num(v, "latency/p99_ms") >= num(v, "latency/p50_ms"), "{v}");
            positive(v, "response_bytes_per_op");
        }
        // The quick list namespace holds 20 pods and every list returned them.
        assert_eq!(num(case, "list_items"), 20.0, "{case}");
        assert!(
            num(case, "list/response_bytes_per_op") > 20.0 * num(rest, "pod_request_bytes") / 2.0,
            "a list body carries its 20 pods: {case}"
        );
        positive(case, "server_rss_bytes");
    }
    let cases = rest["watch"]["cases"].as_array().expect("rest watch cases");
    assert!(!cases.is_empty());
    for case in cases {
        let m = &case["measured"];
        assert!(m["failed"].is_null(), "rest watch failed: {case}");
        for p in [
            "puts",
            "events_delivered",
            "delivered_events_per_sec",
            "delivered_bytes_per_sec",
            "latency/p99_ms",
            "server_rss_bytes",
            "server_cpu_seconds",
        ] {
            positive(m, p);
        }
        assert!(
            num(m, "events_delivered") <= num(m, "events_expected"),
            "more events than updates x watchers: {case}"
        );
        // Each event is a whole pod: well over its annotation.
        assert!(
            num(m, "delivered_bytes_per_sec") > 500.0 * num(m, "delivered_events_per_sec"),
            "{case}"
        );
        assert_eq!(num(m, "connections"), num(case, "watchers"));
        positive(case, "server_cpu_us_per_event");
    }

    let relist = &section(&all, "relist")["result"]["results"];
    assert_eq!(num(relist, "objects"), 1000.0);
    assert!(num(relist, "object_bytes") >= 3500.0, "{relist}");
    let clients = relist["clients_detail"].as_array().expect("relist clients");
    assert_eq!(clients.len() as f64, num(relist, "clients"));
    for c in clients {
        assert_eq!(
            num(c, "items"),
            1000.0,
            "every client listed every pod: {c}"
        );
        assert_eq!(num(c, "pages"), 10.0, "pages of 100: {c}");
        assert!(num(c, "done_seconds") >= num(c, "list_seconds"), "{c}");
    }
    for p in [
        "completion_seconds",
        "list_phase_seconds",
        "objects_per_sec",
        "per_client_list/p99_ms",
        "server_peak_rss_bytes",
        "server_cpu_seconds",
    ] {
        positive(relist, p);
    }
    assert!(num(relist, "completion_seconds") >= num(relist, "list_phase_seconds"));
}
