#!/usr/bin/env python3
"""report.py WORKDIR RESULTS_JSON: the last step of contrib/bench/run.sh.

Reads the per-step JSON files run.sh left in WORKDIR (tool output NAME.json, CPU and memory
NAME.cpu.json, database checks NAME.db.json, machine.json), checks them against the targets of
issue 3, prints the table and writes one JSON document with everything to RESULTS_JSON.
Also usable on its own to re-print a kept work directory (BENCH_KEEP=1).
"""
import datetime
import json
import os
import sys

MIB = 1024.0


def load(work, name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def scenario(work, name):
    out = load(work, name + ".json")
    if out is None:
        return None
    cpu = load(work, name + ".cpu.json")
    if cpu:
        out["cpu"] = cpu
    db = load(work, name + ".db.json")
    if db:
        out["db_check"] = db
    committed = out.get("committed") or out.get("inserted") or 0
    if cpu and committed:
        # µs of CPU per committed reading, per component.
        for key, label in (("consumer_cpu_s", "consumer"), ("postgres_cpu_s", "postgres"),
                           ("mosquitto_cpu_s", "mosquitto"), ("loadgen_cpu_s", "loadgen")):
            out.setdefault("cpu_us_per_reading", {})[label] = round(cpu[key] * 1e6 / committed, 3)
    return out


def fmt(v, unit="", digits=0):
    if v is None:
        return "n/a"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}{unit}"
    return f"{int(round(v)):,}{unit}"


def main():
    work, results_path = sys.argv[1], sys.argv[2]
    machine = load(work, "machine.json") or {}
    names = {
        "db_limit": "dblimit", "broker_limit": "brokerlimit",
        "ingest_1k": "e1k", "ingest_10k": "e10k", "ingest_50k": "e50k",
        "ack_latency_half_rate": "lat",
        "node_batch_peer": "node_batch", "node_naive_peer": "node_naive",
        "backlog_resend_10s": "backlog", "backlog_resend_120s": "backlog_noresend",
        "backlog_paced_100": "backlog_paced",
    }
    sc = {k: scenario(work, v) for k, v in names.items()}

    def get(key, field):
        s = sc.get(key)
        return None if not s or "error" in s and field != "error" else s.get(field)

    db = get("db_limit", "rows_per_s")
    targets = []

    def target(label, value, limit, ratio, ok, note=""):
        targets.append({"what": label, "value": value, "target": limit,
                        "ratio": None if ratio is None else round(ratio, 3),
                        "pass": ok, "note": note})

    for key, label in (("ingest_1k", "1k"), ("ingest_10k", "10k"), ("ingest_50k", "50k")):
        v = get(key, "committed_readings_per_s")
        r = v / db if v and db else None
        target(f"ingest committed readings/s, {label} devices ≥ 0.8 × database limit",
               v, "≥ 0.8 × %s" % fmt(db), r, r is not None and r >= 0.8)

    v10 = get("ingest_10k", "committed_readings_per_s")
    nb = get("node_batch_peer", "committed_readings_per_s")
    nn = get("node_naive_peer", "committed_readings_per_s")
    r = v10 / nb if v10 and nb else None
    target("ingest (10k) ≥ 1.5 × Node.js 1000-row-batch peer", v10, "≥ 1.5 × %s" % fmt(nb), r,
           r is not None and r >= 1.5, "" if nb else machine.get("node_status", "not run"))
    r = v10 / nn if v10 and nn else None
    target("ingest (10k) ≥ 10 × Node.js one-INSERT-per-reading peer", v10,
           "≥ 10 × %s" % fmt(nn), r, r is not None and r >= 10,
           "" if nn else machine.get("node_status", "not run"))

    s10 = sc.get("ingest_10k") or {}
    cpu10 = (s10.get("cpu_us_per_reading") or {}).get("consumer")
    target("ingest CPU µs per reading (10k devices, 10 records/message)", cpu10, "≤ 1.5",
           cpu10 / 1.5 if cpu10 else None, cpu10 is not None and cpu10 <= 1.5)
    rss10 = (s10.get("cpu") or {}).get("consumer_peak_rss_kib")
    rss10 = rss10 / MIB if rss10 else None
    target("ingest peak RSS MiB (10k devices)", rss10, "≤ 64",
           rss10 / 64 if rss10 else None, rss10 is not None and rss10 <= 64)

    p99 = get("ack_latency_half_rate", "ack_p99_ms")
    target("ack latency p99 ms at half the maximum rate (10k devices)", p99, "≤ 1000",
           p99 / 1000 if p99 is not None and p99 >= 0 else None,
           p99 is not None and 0 <= p99 <= 1000)

    bl = sc.get("backlog_resend_10s") or {}
    bl_db = bl.get("db_check") or {}
    expected = 500 * 2880
    live_max = bl.get("live_ack_max_ms")
    if not bl.get("live_msgs"):
        live_max = None  # not one live ack arrived within the bound
    stored = bl_db.get("stored")
    absorbed = "error" not in bl and bl.get("devices_acked") == 500
    note = "absorbed: %s; ledger holds %s of %s backlog records, %s dead letters; %s of 500 " \
        "devices acked at their last seq; %s live acks; resent %s msgs" % (
            "yes" if absorbed else "NO (%s)" % bl.get("error", "not run"),
            fmt(stored), fmt(expected), fmt(bl_db.get("dead_letters")),
            fmt(bl.get("devices_acked")), fmt(bl.get("live_msgs")), fmt(bl.get("resent_msgs")))
    target("24 h backlog of 500 devices: absorbed, nothing lost, live acks ≤ 5 s (max)",
           live_max, "≤ 5000 ms", live_max / 5000 if live_max else None,
           bool(absorbed and live_max is not None and live_max <= 5000), note)

    try:
        with open(os.path.join(work, "broker_drops.txt")) as f:
            machine["broker_drop_notices"] = [l.strip() for l in f if l.strip()]
    except OSError:
        pass
    bp = sc.get("backlog_paced_100") or {}
    bp_db = bp.get("db_check") or {}
    bp_max = bp.get("live_ack_max_ms")
    bp_ok = "error" not in bp and bp.get("devices_acked") == 500 and \
        (bp_db.get("stored") or 0) >= expected
    target("(not a target) the same backlog paced by the devices, ≤ 100 records above their ack",
           bp_max, "≤ 5000 ms", bp_max / 5000 if bp_max else None,
           bool(bp_ok and bp_max is not None and bp_max <= 5000),
           "absorbed at %s readings/s; resent %s msgs" % (
               fmt(bp.get("committed_readings_per_s")), fmt(bp.get("resent_msgs"))))

    doc = {
        "benchmark": "coldtrace make bench (issue 3, ingest at fleet scale)",
        "date": datetime.date.today().isoformat(),
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "scenarios": sc,
        "targets": targets,
    }
    with open(results_path, "w") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print_table(doc)


def print_table(doc):
    m, sc = doc["machine"], doc["scenarios"]

    def s(key):
        return sc.get(key) or {}

    def cpu(key, comp="consumer"):
        return (s(key).get("cpu_us_per_reading") or {}).get(comp)

    def rss(key):
        v = (s(key).get("cpu") or {}).get("consumer_peak_rss_kib")
        return v / MIB if v else None

    print()
    print("coldtrace bench — %s — %s, %s cores, %s MiB — %s, PostgreSQL %s, node %s" % (
        doc["date"], m.get("cpu_model"), m.get("nproc"), m.get("memory_mib"),
        m.get("mosquitto"), m.get("postgresql"), m.get("node") or "n/a"))
    print("load average at start: %s" % m.get("loadavg_at_start"))
    print()
    hdr = "%-50s %14s %10s %10s %9s %8s" % ("measurement", "readings/s", "p50 ms", "p99 ms",
                                           "µs/rdg", "RSS MiB")
    print(hdr)
    print("-" * len(hdr))
    dbl = s("db_limit")
    print("%-50s %14s %10s %10s %9s %8s" % ("1 database limit (binary COPY→stage→ON CONFLICT)",
                                           fmt(dbl.get("rows_per_s")), "", "", "", ""))
    br = s("broker_limit")
    print("%-50s %14s %10s %10s %9s %8s" % (
        "2 broker limit, QoS 1, %s B msgs (%s msg/s)" % (fmt(br.get("bytes_per_msg")),
                                                         fmt(br.get("msgs_per_s"))),
        fmt(br.get("readings_per_s")), "", "", "", ""))
    for key, label in (("ingest_1k", "3 ingest e2e, 1k devices"),
                       ("ingest_10k", "3 ingest e2e, 10k devices"),
                       ("ingest_50k", "3 ingest e2e, 50k devices"),
                       ("ack_latency_half_rate", "3 ingest at half max rate, 10k devices")):
        x = s(key)
        print("%-50s %14s %10s %10s %9s %8s%s" % (
            label, fmt(x.get("committed_readings_per_s")), fmt(x.get("ack_p50_ms")),
            fmt(x.get("ack_p99_ms")), fmt(cpu(key), digits=2), fmt(rss(key), digits=1),
            "  ERROR: " + x["error"] if "error" in x else ""))
    for key, label in (("node_batch_peer", "4 Node.js peer, 1000-row INSERT, 10k devices"),
                       ("node_naive_peer", "4 Node.js naive, INSERT per reading")):
        x = s(key)
        if not x:
            print("%-50s %14s" % (label, m.get("node_status", "skipped")))
            continue
        print("%-50s %14s %10s %10s %9s %8s" % (label, fmt(x.get("committed_readings_per_s")),
                                                "", "", fmt(cpu(key), digits=2),
                                                fmt(rss(key), digits=1)))
    for key, label in (("backlog_resend_10s", "6 backlog 500×2880 + 10 live, 10 s resends"),
                       ("backlog_resend_120s", "6 backlog, resends after 120 s"),
                       ("backlog_paced_100", "6 backlog, devices pace: ≤100 rec above ack")):
        x = s(key)
        print("%-50s %14s %10s %10s %9s %8s%s" % (
            label, fmt(x.get("committed_readings_per_s")), fmt(x.get("live_ack_p50_ms")),
            fmt(x.get("live_ack_p99_ms")), fmt(cpu(key), digits=2), fmt(rss(key), digits=1),
            "  live max %s ms, resent %s msgs%s" % (
                fmt(x.get("live_ack_max_ms")), fmt(x.get("resent_msgs")),
                ", ERROR: " + x["error"] if "error" in x else "")))
    print()
    print("CPU per committed reading, µs (consumer / postgres / mosquitto / loadgen; other users):")
    for key in ("db_limit", "ingest_1k", "ingest_10k", "ingest_50k", "ack_latency_half_rate",
                "node_batch_peer", "node_naive_peer", "backlog_resend_120s", "backlog_paced_100"):
        x = s(key)
        c = x.get("cpu_us_per_reading") or {}
        if c:
            print("  %-22s %6s / %6s / %6s / %6s;  other processes %s s of CPU in %s s" % (
                key, fmt(c.get("consumer"), digits=2), fmt(c.get("postgres"), digits=2),
                fmt(c.get("mosquitto"), digits=2), fmt(c.get("loadgen"), digits=2),
                fmt((x.get("cpu") or {}).get("other_processes_cpu_s"), digits=1),
                fmt((x.get("cpu") or {}).get("wall_s"), digits=1)))
    print()
    print("ratio: measured ÷ reference for ≥ targets, measured ÷ limit for ≤ targets")
    print("%-76s %12s %-14s %7s %s" % ("target", "measured", "target", "ratio", ""))
    for t in doc["targets"]:
        v = t["value"]
        print("%-76s %12s %-14s %7s %s%s" % (
            t["what"], fmt(v, digits=2) if isinstance(v, float) and v < 100 else fmt(v),
            t["target"], "n/a" if t["ratio"] is None else "%.2f" % t["ratio"],
            "✓" if t["pass"] else "✗", "  " + t["note"] if t["note"] else ""))
    drops = m.get("broker_drop_notices") or []
    if drops:
        print()
        print("mosquitto dropped QoS 1 messages it had PUBACKed (its log):")
        for line in drops:
            print("  " + line)
    print()


if __name__ == "__main__":
    main()
