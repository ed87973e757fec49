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
}
