#!/usr/bin/env python3
"""Renders BENCHMARKS.md's tables from the JSON `hive bench all` wrote.

    python3 bench/tables.py bench/results              # print every table
    python3 bench/tables.py --fill BENCHMARKS.md        # rewrite the marked tables in place

Every figure comes from the JSON; nothing is typed in by hand.
"""
import contextlib
import io
import json
import re
import sys
from pathlib import Path


def load(d, name):
    p = Path(d) / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def section_load(name):
    """The load average `all.json` recorded before the section of file `name`."""
    all_json = Path(name).parent / "all.json"
    if not all_json.exists():
        return None
    for s in json.loads(all_json.read_text())["results"]:
        if Path(s["file"]).name == Path(name).name:
            return s.get("load_avg_before")
    return None


def source(j, name, load=None):
    load = load or section_load(name)
    at = f", load average {load_avg(load)} at its start" if load else ""
    print(f"From `{name}` ({j['date']}{at}), written by `{j['command']}`.\n")


def n(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def ms(lat):
    return f"{n(lat['p50_ms'], 3)} / {n(lat['p99_ms'], 3)}"


def ms0(lat):
    return f"{n(lat['p50_ms'])} / {n(lat['p99_ms'])}"


def ratio(x):
    return "–" if x is None else f"{x:.2f}x"


def mib(b):
    return n(b / 2**20)


def load_avg(l):
    return "–" if not l else f"{l['one']:.1f}"


TEXT_COLUMNS = {"side", "measure", "limit", "verb", "file", "shape", "op"}


def header(cols):
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" if c in TEXT_COLUMNS else "---:" for c in cols) + "|")


def row(cells):
    print("| " + " | ".join(str(c) for c in cells) + " |")


def ceilings(d):
    j = load(d, "ceilings")
    if not j:
        return
    r = j["results"]
    source(j, f"{d}/ceilings.json", r.get("load_avg"))
    header(["limit", "figure"])
    row(["fdatasync after a 4 KiB append, p50 / p99 ms", ms(r["fdatasync_append"])])
    row(["fdatasync after a 4 KiB overwrite, p50 / p99 ms", ms(r["fdatasync_overwrite"])])
    u = r["udp_loopback"]
    row([f"raw UDP loopback, {u['datagram_size']:,} B datagrams", f"{n(u['mb_per_sec'])} MB/s"])
    q = r["quic_stream_64k"]
    row(["one QUIC stream (mTLS), 64 KiB messages", f"{n(q['mb_per_sec'])} MB/s"])
    m = r["memcpy"]
    row(["memory copy, one thread, 64 MiB buffers", f"{m['gb_per_sec']:.1f} GB/s"])
    print()


def store(d):
    j = load(d, "store")
    if not j:
        return
    r = j["results"]
    source(j, f"{d}/store.json")
    print(f"Disk probe at the start: fdatasync p50 {n(r['fdatasync']['p50_ms'], 3)} ms.\n")
    header(["members", "value B", "clients", "Hive puts/s", "Hive p50 / p99 ms", "fsyncs/put",
            "etcd puts/s", "etcd p50 / p99 ms", "puts/s Hive/etcd", "p50 Hive/etcd",
            "disk p50 ms before Hive / etcd"])
    for c in r["cases"]:
        e = c.get("etcd") or {}
        row([c["members"], n(c.get("value_size", 256)), n(c["clients"]), n(c["puts_per_sec"]),
             ms(c["latency"]), f"{c.get('leader_fsyncs_per_put', 0):.3f}",
             n(e.get("puts_per_sec")), ms(e["latency"]) if e else "–",
             ratio(c.get("ratio_puts_per_sec")), ratio(c.get("ratio_p50")),
             f"{n(c.get('disk_fdatasync_p50_ms_before'), 2)} / {n(e.get('disk_fdatasync_p50_ms_before'), 2)}"])
    print()


def transport(d):
    j = load(d, "transport")
    if not j:
        return
    r = j["results"]
    source(j, f"{d}/transport.json", r.get("load_avg"))
    header(["measure", "figure"])
    for c in r["rpc"]:
        row([f"unary RPC, {c['callers']} caller" + ("s" if c["callers"] > 1 else ""),
             f"{n(c['calls_per_sec'])} calls/s, p50 {n(c['p50_us'])} µs, p99 {n(c['p99_us'])} µs"])
    for s in r["streams"]:
        row([f"server stream, {s['message_size']:,} B messages",
             f"{n(s['messages_per_sec'])} msgs/s, {n(s['mb_per_sec'])} MB/s"])
    u = r["udp"]
    row([f"raw UDP loopback, {u['datagram_size']:,} B datagrams (ceiling)", f"{n(u['mb_per_sec'])} MB/s"])
    print()


def watch(d, files=()):
    """The watch table of `d/watch.json`, or of each of `files` (re-runs of some shapes)."""
    for path in files or [f"{d}/watch.json"]:
        if Path(path).exists():
            watch_table(json.loads(Path(path).read_text()), path)


def watch_table(j, path):
    r = j["results"]
    source(j, path)
    header(["N", "M/s", "S", "C", "Hive ev/s", "Hive MB/s", "Hive puts/s", "Hive p50 / p99 ms",
            "Hive CPU srv / cli s", "Hive RSS MiB", "etcd ev/s", "etcd MB/s", "etcd puts/s",
            "etcd p50 / p99 ms", "etcd CPU srv / cli s", "etcd RSS MiB", "ev/s Hive/etcd",
            "p99 Hive/etcd", "delivered Hive / etcd", "load avg"])
    for c in r["cases"]:
        h, e = c.get("hive") or {}, c.get("etcd") or {}

        def side(s):
            if not s:
                return ["–"] * 6
            if s.get("failed"):
                return ["**failed**"] + ["–"] * 5
            return [n(s["delivered_events_per_sec"]), f"{s['delivered_bytes_per_sec'] / 1e6:.1f}",
                    n(s["achieved_puts_per_sec"]), ms0(s["latency"]),
                    f"{s['server_cpu_seconds']:.2f} / {s['client_cpu_seconds']:.2f}",
                    mib(s.get("server_peak_rss_bytes", s.get("server_rss_bytes", 0)))]

        def deliv(s):
            if not s or s.get("failed"):
                return "–"
            return f"{s['events_delivered']:,}/{s['events_expected']:,}"
        row([n(c["watchers"]), n(c["puts_per_sec"]), n(c["streams"]), n(c["connections"])]
            + side(h) + side(e)
            + [ratio(c.get("ratio_events_per_sec")), ratio(c.get("ratio_p99")),
               f"{deliv(h)} / {deliv(e)}", load_avg(c.get("load_avg_before"))])
    print()
    print("CPU per delivered event (`cpu_seconds / events_delivered`):\n")
    header(["N", "M/s", "S", "C", "Hive µs/event server / client", "etcd µs/event server / client"])

    def per_event(s):
        if not s or not s.get("events_delivered"):
            return "–"
        k = 1e6 / s["events_delivered"]
        return f"{s['server_cpu_seconds'] * k:.1f} / {s['client_cpu_seconds'] * k:.1f}"
    for c in r["cases"]:
        row([n(c["watchers"]), n(c["puts_per_sec"]), n(c["streams"]), n(c["connections"]),
             per_event(c.get("hive")), per_event(c.get("etcd"))])
    for c in r["cases"]:
        for name in ("hive", "etcd"):
            failed = (c.get(name) or {}).get("failed")
            if failed:
                print(f"\n{name} failed at N={c['watchers']:,} S={c['streams']:,} "
                      f"C={c['connections']:,}: `{failed}`")
    print()


def idle(d):
    j = load(d, "idle")
    if not j:
        return
    r = j["results"]
    source(j, f"{d}/idle.json", r.get("load_avg_before"))
    header(["side", "watchers", "streams", "connections", "server B/watcher", "client B/watcher",
            "create s", "watchers/s", "server RSS MiB before → after", "idle server CPU s"])
    for name in ("hive", "etcd"):
        s = r.get(name)
        if not s:
            continue
        row([name, n(s["watchers"]), n(s["streams"]), n(s["connections"]),
             n(s["server_bytes_per_watcher"]), n(s["client_bytes_per_watcher"]),
             f"{s['create_seconds']:.2f}", n(s["watchers_per_sec"]),
             f"{mib(s['server_rss_before_bytes'])} → {mib(s['server_rss_after_bytes'])}",
             f"{s['server_cpu_seconds_idle']:.2f}"])
    print(f"\nHive/etcd: bytes per watcher {ratio(r.get('ratio_bytes_per_watcher'))}, "
          f"creation time {ratio(r.get('ratio_create_seconds'))}.\n")


def api(d):
    j = load(d, "api")
    if not j:
        return
    source(j, f"{d}/api.json")
    r = j["results"]
    clients = r["clients"]
    cols = ["op"]
    for c in clients:
        cols += [f"{c['client']} ops/s", f"{c['client']} p50 / p99 ms"]
    header(cols)
    for i, op in enumerate(clients[0]["ops"]):
        callers = op["concurrency"]
        cells = [f"{op['op']} ({op['count']:,}, {callers} caller{'s' if callers > 1 else ''})"]
        for c in clients:
            o = c["ops"][i]
            cells += [n(o["ops_per_sec"]), f"{o['p50_us'] / 1000:.2f} / {o['p99_us'] / 1000:.2f}"]
        row(cells)
    sel = r.get("selector")
    if sel:
        print(f"\nField selector `{sel['selector']}` per watch event over {sel['events']:,} archived "
              f"pods ({sel['matched']:,} match): {n(sel['archived_ns_per_event'])} ns on the archived "
              f"envelope, {n(sel['decoded_ns_per_event'])} ns decoding the object first "
              f"({sel['speedup']:.0f}x).")
    print()


def rest(d):
    j = load(d, "rest")
    if not j:
        return
    r = j["results"]
    source(j, f"{d}/rest.json")
    header(["concurrency", "verb", "ops", "ops/s", "p50 ms", "p99 ms", "max ms", "errors",
            "429s", "SLO p99", "member CPU s", "load avg"])
    slo = {"create": "≤ 1 s", "get": "≤ 1 s", "list": "≤ 5 s"}
    for c in r["crud"]:
        for verb in ("create", "get", "list"):
            v = c[verb]
            label = verb if verb != "list" else f"list (namespace of {c.get('list_items', '?')} pods)"
            row([c["concurrency"], label, n(v["ops"]), n(v["ops_per_sec"]),
                 n(v["latency"]["p50_ms"], 2), n(v["latency"]["p99_ms"], 2),
                 n(v["latency"]["max_ms"], 1), v["errors"], v["throttled_429"], slo[verb],
                 f"{c.get('server_cpu_seconds', 0):.2f}", load_avg(c.get("load_avg_before"))])
    print()
    w = r.get("watch")
    if not w:
        return
    print("REST watch fan-out:\n")
    header(["N", "M/s", "updates/s", "events delivered / expected", "ev/s", "MB/s",
            "p50 / p99 ms", "member CPU s", "client CPU s", "member µs/event",
            "member RSS MiB", "watch setup s", "load avg"])
    for c in w["cases"]:
        m = c["measured"]
        row([n(c["watchers"]), n(c["updates_per_sec"]), n(m["achieved_puts_per_sec"]),
             f"{m['events_delivered']:,} / {m['events_expected']:,}",
             n(m["delivered_events_per_sec"]), f"{m['delivered_bytes_per_sec'] / 1e6:.1f}",
             ms0(m["latency"]), f"{m['server_cpu_seconds']:.2f}", f"{m['client_cpu_seconds']:.2f}",
             f"{c.get('server_cpu_us_per_event', 0):.1f}",
             mib(m.get("server_peak_rss_bytes", m.get("server_rss_bytes", 0))),
             f"{m['create_seconds']:.1f}", load_avg(c.get("load_avg_before"))])
    print()


def relist_row(name, j):
    r = j["results"]
    pc = r.get("per_client_list") or {}
    row([name, n(r["objects"]), r["clients"], f"{r['create_seconds']:.1f} ({n(r['creates_per_sec'])})",
         f"{r['completion_seconds']:.2f}", f"{r['list_phase_seconds']:.2f}",
         f"{pc.get('p50_ms', 0) / 1000:.1f} / {pc.get('max_ms', 0) / 1000:.1f}",
         n(r["objects_per_sec"]), f"{r['list_bytes_per_sec'] / 1e6:.1f}",
         n(r["marker_to_event"]["p99_ms"], 1), f"{r['server_cpu_seconds']:.2f}",
         f"{mib(r['server_rss_before_bytes'])} → {mib(r['server_peak_rss_bytes'])}",
         r.get("requests_throttled_429", 0), load_avg(r.get("load_avg_before"))])


def relist(d, extra):
    rows = [(f"`{Path(p).name}`", json.loads(Path(p).read_text())) for p in extra]
    j = load(d, "relist")
    if j:
        rows.append(("`relist.json` (bench all)", j))
    if not rows:
        return
    print("Each row is one run of `hive bench relist` (its JSON names the command and date).\n")
    header(["file", "objects", "clients", "create s (objects/s)", "completion s", "list phase s",
            "per-client list p50 / max s", "objects listed/s", "MB/s listed",
            "marker→event p99 ms", "member CPU s", "member RSS before → peak MiB", "429s",
            "load avg"])
    for name, j in rows:
        relist_row(name, j)
    print()


SECTIONS = {
    "ceilings": ceilings,
    "store": store,
    "transport": transport,
    "watch": watch,
    "idle": idle,
    "api": api,
    "rest": rest,
}


def render(name, d, args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if name == "relist":
            relist(d, args)
        elif name == "watch":
            watch(d, args)
        else:
            SECTIONS[name](d)
    return out.getvalue()


MARKER = re.compile(r"(<!-- table: (\w+)([^>]*?) -->\n)(.*?)(<!-- /table -->)", re.S)


def fill(doc, d):
    """Rewrites every `<!-- table: NAME [files] -->...<!-- /table -->` region of doc."""
    text = Path(doc).read_text()
    text = MARKER.sub(
        lambda m: m.group(1) + "\n" + render(m.group(2), d, m.group(3).split()) + m.group(5), text
    )
    Path(doc).write_text(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fill":
        fill(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "bench/results")
    else:
        d = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
        for name in SECTIONS:
            print(render(name, d, []))
        print(render("relist", d, sys.argv[2:]))
