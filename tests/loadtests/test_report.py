"""The bench report's verdicts: the issue's targets, and by how much a missed one is missed."""

from __future__ import annotations

from typing import Any

from loadtests.report import (
    class_percentiles,
    markdown,
    moved_no_points,
    point_moving_rps,
    sizing,
    summary,
    verdict,
)


def _run(users: int, **endpoints: tuple[float, int, float]) -> dict[str, Any]:
    """A locust run with endpoints name -> (req/s, failed, p99 ms)."""
    return {
        "users": users,
        "seconds": 20,
        "endpoints": {
            name.replace("_", ":", 1): {
                "requests": 100,
                "failed": failed,
                "rps": rps,
                "p50_ms": 5.0,
                "p95_ms": p99,
                "p99_ms": p99,
                "error_rate": failed / 100,
                "failures": {"HTTPError('429')": failed} if failed else {},
            }
            for name, (rps, failed, p99) in endpoints.items()
        },
        "classes": class_percentiles(
            {
                "resident:home": {"5": 98, "40": 1, "120": 1},
                "resident:redeem": {"10": 99, "140": 1},
            }
        ),
        "pools": {"waits": {}, "waited_s": {}, "answers": {"resident:redeem 409": 20}},
        "cpu": {
            "seconds": 20,
            "groups_pct_of_core": {"locust": 85.0, "gunicorn": 100.0},
            "busiest_process_pct": {"locust": 85.0},
            "machine_pct_of_core": 190.0,
            "other_pct_of_core": 5.0,
            "generator_bound": users == 200,
        },
    }


def _ingest(records: int, per_s: float, us: float) -> dict[str, Any]:
    return {
        "records": records,
        "seconds": records / per_s,
        "records_per_s": per_s,
        "us_per_record": us,
        "peak_rss_mb_per_process": 250.0,
        "peak_rss_mb_per_worker": 320.0,
        "batches": 1,
        "workers": 2,
        "accepted_in_s": 1.0,
    }


def _result() -> dict[str, Any]:
    return {
        "date": "2026-12-04",
        "smoke": False,
        "command": "make bench",
        "machine": {
            "cpus": 2,
            "memory_gb": 8,
            "python": "3.11",
            "postgresql": "15",
            "redis": "7",
            "note": "shared",
        },
        "users": 50,
        "seconds": 20,
        "locust_processes": 2,
        "hello": _run(50, ceiling_hello=(1000.0, 0, 5.0)),
        "insert": _run(50, ceiling_insert=(400.0, 0, 5.0)),
        "reads": _run(50, resident_home=(300.0, 0, 50.0), resident_offers=(250.0, 0, 50.0)),
        "writes": _run(50, resident_redeem=(60.0, 3, 90.0), station_claim=(60.0, 0, 90.0), **{}),
        "mix": _run(50, resident_home=(10.0, 0, 120.0)),
        "mix_more": _run(200, resident_home=(40.0, 0, 900.0)),
        "growth": [_ingest(10_000, 10_000.0, 100.0), _ingest(1_000_000, 8_000.0, 125.0)],
        "api_ingestion": [_ingest(10_000, 60_000.0, 16.0), _ingest(1_000_000, 55_000.0, 18.0)],
        "contention": {
            "concurrency": 50,
            "one_account": {},
            "many_accounts": {},
            "reconcile_clean": True,
        },
        "reconcile_clean": True,
        "recompute": {"clean": False, "summary": "3 differences", "seconds": 9.0},
    }


def test_verdicts_say_by_how_much() -> None:
    assert verdict(60, 50) == "met"
    assert verdict(13, 50) == "missed: x3.8 short (74% below)"
    assert verdict(1800, 100, higher_is_better=False) == "missed: x18.0 over (1700% above)"
    assert verdict(100, 100, higher_is_better=False) == "met"


def test_class_percentiles_merge_the_endpoints_histograms() -> None:
    classes = class_percentiles(
        {"resident:home": {"5": 90, "200": 10}, "resident:offers": {"1": 100}}
    )
    reads = classes["resident reads"]
    assert reads["requests"] == 200
    assert (reads["p50_ms"], reads["p95_ms"], reads["p99_ms"]) == (1.0, 5.0, 200.0)
    assert classes["point-moving writes"]["requests"] == 0


def test_the_summary_holds_every_target_of_the_issue() -> None:
    rows = {row["measure"]: row for row in summary(_result())}
    by_start = {measure.split(" (")[0]: row for measure, row in rows.items()}
    # reads 550 req/s >= 50% of hello (500); writes 120 less 1 refused a second: 119 < 200
    assert by_start["resident reads req/s"]["verdict"] == "met"
    assert by_start["point-moving writes req/s"]["verdict"].startswith("missed: x1.7 short")
    assert by_start["failed requests"]["verdict"] == "missed: 3 in writes"
    # the mix at 50 users: class p99s of 40 ms (reads) and 140 ms (writes): met
    assert rows["resident reads p99 ms (mix, 50 users)"]["verdict"] == "met"
    assert rows["point-moving writes p99 ms (mix, 50 users)"]["verdict"] == "met"
    assert by_start["streaming import records/s"]["verdict"].startswith("missed: x6.2 short")
    assert by_start["push API records/s"]["verdict"] == "met"
    assert by_start["push API peak RSS MB per process"]["verdict"].startswith("missed")
    assert by_start["streaming import per-record cost at 1,000,000 vs 10,000"][
        "verdict"
    ].startswith("missed: 25% apart")
    assert by_start["push API per-record cost at 1,000,000 vs 10,000"]["verdict"] == "met"
    assert rows["ledger reconcile after everything"]["verdict"] == "met"
    assert rows["methodologies recompute --check after everything"]["verdict"] == "FAILED"
    assert "mix_more" in by_start["load generator below 80% of a core per process"]["verdict"]


def test_the_markdown_report_lists_runs_cpu_and_failures() -> None:
    text = markdown(_result())
    assert "| mix_more | 200 |" in text
    assert "## CPU per process group" in text
    assert "| writes | resident:redeem | HTTPError('429') | 3 |" in text


def test_the_city_sizing_follows_from_the_runs_ratios() -> None:
    size = sizing(_result())
    # 2.3M residents, 15% active: 345,000; peak minute = 0.15 / 3600 x 2 of the day
    assert size["reads_peak_rps"] == 230.0 and size["writes_peak_rps"] == 17.2
    # reads: 230 / (550 x 0.6) = 0.70; writes: 17.25 / (119 x 0.6) = 0.24; + 1 spare
    assert size["web_nodes"] == 2
    # push API at 1M: 55,000 records/s on 2 workers; 3M in 60 s needs 2 processes
    assert size["records_per_s_per_process"] == 27_500.0
    assert (size["ingest_processes"], size["ingest_nodes"]) == (2, 1)
    slower = _result()
    slower["api_ingestion"][1]["records_per_s"] = 3_900.0
    assert sizing(slower)["ingest_processes"] == 26  # 3M / (1,950 x 60) = 25.6


def test_answers_that_moved_no_points_are_left_out_of_the_writes() -> None:
    writes = _result()["writes"]
    assert point_moving_rps(writes) == 119.0  # 120 a second, 20 redemptions refused in 20 s
    writes["pools"]["answers"].update({"station:claim duplicate": 30, "station:claim review": 10})
    assert moved_no_points(writes) == {
        "resident:redeem 409": 20.0,
        "station:claim duplicate": 30.0,
        "station:claim review": 10.0,
    }
    assert point_moving_rps(writes) == 117.0  # (20 + 30 + 10) / 20 s less
    result = _result()
    result["writes"] = writes
    text = markdown(result)
    assert "station:claim duplicate: 30" in text and "resident:redeem 409: 20" in text
