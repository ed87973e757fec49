//! The benchmark functions run end to end at a tiny size (speeds are not asserted).

use hive_transport::bench::{self, BenchScale};

/// Every benchmark runs at a tiny scale and reports sane, serializable numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_benchmark_runs_at_a_tiny_size() {
    let report = bench::run_all(BenchScale::TINY).await.unwrap();
    assert_eq!(report.rpc.len(), 2);
    assert_eq!(report.rpc[0].callers, 1);
    assert_eq!(report.rpc[1].callers, 64);
    for r in &report.rpc {
        assert_eq!(r.calls, BenchScale::TINY.rpc_calls);
        assert!(
            r.calls_per_sec > 0.0 && r.p50_us > 0.0 && r.p99_us >= r.p50_us,
            "{r:?}"
        );
    }
    assert_eq!(report.streams.len(), 2);
    for s in &report.streams {
        assert_eq!(s.messages, BenchScale::TINY.stream_messages);
        assert!(s.messages_per_sec > 0.0 && s.mb_per_sec > 0.0, "{s:?}");
    }
    assert!(report.udp.received > 0, "{:?}", report.udp);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"p99_us\""));
}
