"""The benchmark's report: the targets, each measure's verdict, and the markdown table
(``loadtests/bench.py`` measures; this turns its figures into loadtests/results/<date>.md)."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "reads_vs_hello": 0.5,
    "reads_p99_ms": 100,
    "writes_vs_insert": 0.5,
    "writes_p99_ms": 150,
    "ingest_records_per_s": 50_000,
    "ingest_peak_rss_mb": 300,
    "growth_flatness": 0.2,
}


def total_rps(stats: dict[str, Any], prefix: str = "") -> float:
    return round(
        sum(
            s["rps"]
            for name, s in stats.items()
            if name.startswith(prefix) and not name.endswith(("token", "login", "login-page"))
        ),
        1,
    )


def worst_p99(stats: dict[str, Any], names: tuple[str, ...]) -> float:
    return max((s["p99_ms"] for n, s in stats.items() if n in names), default=0.0)


def summary(
    hello: dict[str, Any],
    insert: dict[str, Any],
    reads: dict[str, Any],
    writes: dict[str, Any],
    mix: dict[str, Any],
    growth: list[dict[str, Any]],
    api: dict[str, Any],
    clean: bool,
) -> list[dict[str, Any]]:
    """The report's first table: each measure against its target, met or by how much not."""
    hello_rps, insert_rps = total_rps(hello), total_rps(insert)
    reads_total = total_rps(reads)
    writes_total = round(
        total_rps(writes, "resident:redeem")
        + total_rps(writes, "station:claim")
        + total_rps(writes, "merchant:fulfil"),
        1,
    )
    read_p99 = worst_p99(mix, ("resident:home", "resident:offers", "resident:history"))
    write_p99 = worst_p99(mix, ("resident:redeem", "station:claim", "merchant:fulfil"))
    biggest = growth[-1]
    flatness = (biggest["us_per_record"] / growth[0]["us_per_record"] - 1) if growth else 0
    return [
        {
            "measure": "hello-world ceiling (req/s)",
            "value": hello_rps,
            "target": "-",
            "verdict": "ceiling",
        },
        {
            "measure": "one-INSERT ceiling (req/s)",
            "value": insert_rps,
            "target": "-",
            "verdict": "ceiling",
        },
        {
            "measure": "resident reads req/s (all read endpoints)",
            "value": reads_total,
            "target": f">= {TARGETS['reads_vs_hello']:.0%} of hello = "
            f"{round(hello_rps * TARGETS['reads_vs_hello'], 1)}",
            "verdict": verdict(reads_total, hello_rps * TARGETS["reads_vs_hello"]),
        },
        {
            "measure": "resident reads p99 ms (mix)",
            "value": read_p99,
            "target": f"<= {TARGETS['reads_p99_ms']}",
            "verdict": verdict(read_p99, TARGETS["reads_p99_ms"], False),
        },
        {
            "measure": "point-moving writes req/s (claim, redeem, fulfil)",
            "value": writes_total,
            "target": f">= {TARGETS['writes_vs_insert']:.0%} of insert = "
            f"{round(insert_rps * TARGETS['writes_vs_insert'], 1)}",
            "verdict": verdict(writes_total, insert_rps * TARGETS["writes_vs_insert"]),
        },
        {
            "measure": "writes p99 ms (mix)",
            "value": write_p99,
            "target": f"<= {TARGETS['writes_p99_ms']}",
            "verdict": verdict(write_p99, TARGETS["writes_p99_ms"], False),
        },
        {
            "measure": f"import records/s ({biggest['records']} records)",
            "value": biggest["records_per_s"],
            "target": f">= {TARGETS['ingest_records_per_s']}",
            "verdict": verdict(biggest["records_per_s"], TARGETS["ingest_records_per_s"]),
        },
        {
            "measure": f"push API records/s ({api['records']} records)",
            "value": api["records_per_s"],
            "target": f">= {TARGETS['ingest_records_per_s']}",
            "verdict": verdict(api["records_per_s"], TARGETS["ingest_records_per_s"]),
        },
        {
            "measure": "import peak RSS MB per process",
            "value": max(g["peak_rss_mb_per_process"] for g in growth),
            "target": f"<= {TARGETS['ingest_peak_rss_mb']}",
            "verdict": verdict(
                max(g["peak_rss_mb_per_process"] for g in growth),
                TARGETS["ingest_peak_rss_mb"],
                False,
            ),
        },
        {
            "measure": "per-record cost, largest vs smallest import",
            "value": f"{flatness:+.0%}",
            "target": f"within {TARGETS['growth_flatness']:.0%}",
            "verdict": "met"
            if abs(flatness) <= TARGETS["growth_flatness"]
            else f"off by {abs(flatness):.0%}",
        },
        {
            "measure": "reconcile after everything",
            "value": clean,
            "target": "clean",
            "verdict": "met" if clean else "FAILED",
        },
    ]


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    if not target:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return "met"
    ratio = value / target if higher_is_better else target / value if value else 0
    return f"short by {round((1 - ratio) * 100)}%"


def markdown(result: dict[str, Any]) -> str:
    r = result
    lines = [
        f"# Benchmark {r['date']} ({'smoke' if r['smoke'] else 'full'})",
        "",
        f"Machine: {r['machine']['cpus']} cores, {r['machine']['memory_gb']} GB, "
        f"Python {r['machine']['python']}, PostgreSQL {r['machine']['postgresql']}, "
        f"Redis {r['machine']['redis']}; {r['machine']['note']}.",
        f"Command: `{r['command']}`; locust {r['locust_processes']} process(es), "
        f"{r['users']} users, {r['seconds']} s per run; gunicorn sync workers: 2.",
        "",
        "| measure | value | target | verdict |",
        "|---|---|---|---|",
    ]
    for row in r["summary"]:
        lines.append(f"| {row['measure']} | {row['value']} | {row['target']} | {row['verdict']} |")
    lines += [
        "",
        "## Endpoints (realistic mix, with think time)",
        "",
        "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in sorted(r["mix"].items()):
        lines.append(
            f"| {name} | {s['requests']} | {s['rps']} | {s['p50_ms']} | {s['p95_ms']} | "
            f"{s['p99_ms']} | {s['error_rate']:.2%} |"
        )
    failures = [
        (run, name, error, count)
        for run in ("reads", "writes", "mix")
        for name, s in sorted(r[run].items())
        for error, count in s.get("failures", {}).items()
    ]
    lines += ["", "## Failed requests", ""]
    if failures:
        lines += ["| run | endpoint | error | occurrences |", "|---|---|---|---|"]
        lines += [f"| {run} | {name} | {error} | {count} |" for run, name, error, count in failures]
    else:
        lines.append("None in any run.")
    lines += [
        "",
        "## Ingestion growth (streaming import)",
        "",
        "| records | seconds | records/s | µs per record | peak RSS MB per process |",
        "|---|---|---|---|---|",
    ]
    for g in r["growth"]:
        lines.append(
            f"| {g['records']} | {g['seconds']} | {g['records_per_s']} | "
            f"{g['us_per_record']} | {g['peak_rss_mb_per_process']} |"
        )
    api = r["api_ingestion"]
    lines += [
        "",
        f"Push API with {api['workers']} RQ workers: {api['records']} records in "
        f"{api['batches']} batches, {api['records_per_s']} records/s end to end "
        f"(all accepted in {api['accepted_in_s']} s), peak RSS "
        f"{api['peak_rss_mb_per_worker']} MB per worker.",
        "",
        "## Ledger contention",
        "",
        f"{r['contention']['concurrency']} threads; one account: "
        f"{r['contention']['one_account']}; many accounts: "
        f"{r['contention']['many_accounts']}; reconcile clean: "
        f"{r['contention']['reconcile_clean']}.",
        "",
    ]
    return "\n".join(lines)
