#!/usr/bin/env python3
"""The figures of perf/scale_curve: one row from a size's raw outputs, and the table from all rows.

  scale_curve_row.py RUN LEADS SPL LOAD_S RSS0_KB RSS_KB HWM_KB PRICE
      reads RUN/loadgen-LEADS.json and RUN/metrics-LEADS-{before,after}.txt; prints one JSON object.
  scale_curve_row.py --table ROWS OUT_JSON OUT_DAT DATE MACHINE COMMAND PRICE [NOT_MEASURED]
      reads ROWS (one JSON object a line); writes OUT_JSON (every row, with the run's context) and OUT_DAT
      (gnuplot's data, one line a size); prints the Markdown table. NOT_MEASURED: the sizes (leads, comma
      separated, may be empty) that could not be measured, named under the table.

Exit 0, or 1 with the reason on stderr when an input is missing or not understood.
"""
import json
import re
import sys

LINE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def metric(text, name, labels=""):
    """Sum of the samples of NAME whose label set holds LABELS (a substring); None when there is none."""
    total, seen = 0.0, False
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) != name or labels not in (m.group(2) or ""):
            continue
        try:
            total += float(m.group(3))
        except ValueError:
            continue
        seen = True
    return total if seen else None


def delta(before, after, name, labels=""):
    a, b = metric(after, name, labels), metric(before, name, labels)
    if a is None:
        return None
    return a - (b or 0.0)


def row(run, leads, spl, load_s, rss0_kb, rss_kb, hwm_kb, price):
    lg = json.load(open("%s/loadgen-%d.json" % (run, leads)))
    before = open("%s/metrics-%d-before.txt" % (run, leads)).read()
    after = open("%s/metrics-%d-after.txt" % (run, leads)).read()
    stage = lg["stages"][0]
    lat = stage["latency_ms"]
    snippets = metric(after, "leadpoet_snippets_total", 'result="accepted"')
    leads_held = metric(after, "leadpoet_leads")
    # The window of the queries: what the server's own accounting added between the two /metrics reads.
    # /v1/leads answers count the warm-up too; so does every figure below, which is per query or per lead.
    queries = delta(before, after, "leadpoet_http_requests_total", 'route="/v1/leads",code="200"')
    usd = delta(before, after, "leadpoet_lead_cost_usd_sum")
    leads_out = delta(before, after, "leadpoet_lead_cost_usd_count")
    cpu = delta(before, after, "process_cpu_seconds_total")
    rss = rss_kb * 1024.0
    r = {
        "leads_asked": leads, "snippets_per_lead": spl,
        "leads": leads_held, "snippets": snippets,
        "postings": metric(after, "leadpoet_index_postings"),
        "load_s": load_s,
        "rss_bytes": rss, "rss_empty_bytes": rss0_kb * 1024.0, "rss_peak_bytes": hwm_kb * 1024.0,
        "bytes_per_snippet": rss / snippets if snippets else None,
        "bytes_per_snippet_over_empty": (rss - rss0_kb * 1024.0) / snippets if snippets else None,
        "qps": stage["qps"], "achieved_qps": stage["achieved_qps"],
        "ok": stage["ok"], "errors": stage["errors"], "lost": stage["lost"], "unsent": stage["unsent"],
        "p50_ms": lat["p50"], "p90_ms": lat.get("p90"), "p99_ms": lat["p99"], "max_ms": lat.get("max"),
        "queries_accounted": queries,
        "usd_per_lead": usd / leads_out if usd is not None and leads_out else None,
        "usd_per_query": usd / queries if usd is not None and queries else None,
        # The accounted CPU of a query: its USD at the price the server was given, back to seconds (no paid
        # stage runs in this scenario: no LLM key, no enrichment key).
        "cpu_ms_per_query": usd * 3600.0 / price / queries * 1000.0 if usd is not None and queries and price > 0 else None,
        "process_cpu_ms_per_query": cpu / queries * 1000.0 if cpu is not None and queries else None,
    }
    print(json.dumps(r))


def fmt(v, f):
    return "n/a" if v is None else f % v


def size_name(n):
    if n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def table(rows_file, out_json, out_dat, date, machine, command, price, not_measured):
    rows = [json.loads(l) for l in open(rows_file) if l.strip()]
    missing = [int(n) for n in not_measured.split(",") if n]
    json.dump({"tool": "scale_curve", "date": date, "machine": machine, "command": command,
               "usd_per_hour": price, "rows": rows, "not_measured": missing}, open(out_json, "w"), indent=1)
    with open(out_dat, "w") as d:
        d.write("# leads snippets rss_mb bytes_per_snippet p50_ms p99_ms cpu_ms_per_query usd_per_lead\n")
        for r in rows:
            d.write("%s %s %.3f %s %.4f %.4f %s %s\n" % (
                r["leads"] or r["leads_asked"], r["snippets"] or 0, r["rss_bytes"] / 1048576.0,
                fmt(r["bytes_per_snippet"], "%.1f").replace("n/a", "NaN"), r["p50_ms"], r["p99_ms"],
                fmt(r["cpu_ms_per_query"], "%.4f").replace("n/a", "NaN"),
                fmt(r["usd_per_lead"], "%.4g").replace("n/a", "NaN")))
    print("## Memory and scale curve (perf/scale_curve)")
    print()
    print("%s, %s. Machine: %s. Open loop: %s." % (command, date, machine,
          "%g QPS" % rows[0]["qps"] if rows else "no size measured"))
    print("RSS = VmRSS after the queries; B/snippet = RSS / snippets held; CPU ms/query and cost per lead from the")
    print("server's own accounting (leadpoet_lead_cost_usd at %g USD/h) over the query window." % price)
    print()
    print("| size | leads | snippets | RSS MB | B/snippet | p50 ms | p99 ms | CPU ms/query | cost per lead (USD) | achieved q/s | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s | %s | %.0f | %s | %.2f | %.2f | %s | %s | %.1f of %g | %d |" % (
            size_name(r["leads_asked"]), fmt(r["leads"], "%.0f"), fmt(r["snippets"], "%.0f"),
            r["rss_bytes"] / 1048576.0, fmt(r["bytes_per_snippet"], "%.0f"), r["p50_ms"], r["p99_ms"],
            fmt(r["cpu_ms_per_query"], "%.2f"), fmt(r["usd_per_lead"], "%.3g"), r["achieved_qps"], r["qps"],
            r["errors"] + r["lost"] + r["unsent"]))
    print()
    print("| size | load s | empty RSS MB | peak RSS MB | B/snippet over empty | postings | process CPU ms/query | USD per query |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s | %.0f | %.0f | %s | %s | %s | %s |" % (
            size_name(r["leads_asked"]), r["load_s"], r["rss_empty_bytes"] / 1048576.0, r["rss_peak_bytes"] / 1048576.0,
            fmt(r["bytes_per_snippet_over_empty"], "%.0f"), fmt(r["postings"], "%.0f"),
            fmt(r["process_cpu_ms_per_query"], "%.2f"), fmt(r["usd_per_query"], "%.3g")))
    if missing:
        print()
        print("Not measured (see the run's logs): %s leads." % ", ".join(size_name(n) for n in missing))


def main(a):
    try:
        if len(a) in (8, 9) and a[0] == "--table":
            table(a[1], a[2], a[3], a[4], a[5], a[6], float(a[7]), a[8] if len(a) == 9 else "")
        elif len(a) == 8:
            row(a[0], int(a[1]), int(a[2]), float(a[3]), float(a[4]), float(a[5]), float(a[6]), float(a[7]))
        else:
            sys.stderr.write(__doc__)
            return 2
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        sys.stderr.write("scale_curve_row.py: %s: %s\n" % (type(e).__name__, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
