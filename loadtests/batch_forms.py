"""Micro measurement of the methodologies' batch forms (issue 18), not a test.

``python -m loadtests.batch_forms [rows]`` builds ``rows`` typical records per partner
module (the shapes ``flask demo generate`` writes: bus trips, pedal and e-bike rides, weighed
waste items, meals), then times, per record, the scalar ``quantify`` (on the activity as the
JSON path reads it) and ``quantify_batch`` (on the String columns the ingestion builds), and
checks that the two agree on every record.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from backend.actions import numbers
from methodologies import registry
from methodologies.base import LOCAL_TZ


def typical(code: str, n: int, seed: int = 42) -> list[dict[str, Any]]:
    """JSON-shaped activities with numbers as written (what ``numbers.loads`` gives)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(n):
        at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 40000))
        start = at.astimezone(LOCAL_TZ)
        if code in ("public_transit", "bike_sharing"):
            km = round(rng.uniform(1.5, 12 if code == "public_transit" else 5), 1)
            kind = ("mode", "bus") if code == "public_transit" else ("bike_type", "pedal")
            if code == "bike_sharing" and rng.random() < 0.3:
                kind = ("bike_type", "ebike")
            text = json.dumps(
                {
                    kind[0]: kind[1],
                    "distance_km": km,
                    "started_at": start.isoformat(),
                    "ended_at": (start + timedelta(minutes=rng.randint(12, 40))).isoformat(),
                }
            )
        elif code == "waste_sorting":
            item = {
                "category": rng.choice(("paper", "plastic", "metal", "glass")),
                "weight_kg": round(rng.uniform(0.5, 6), 1),
            }
            text = json.dumps({"items": [item], "collected_at": start.isoformat()})
        else:
            kind = rng.choice(("clean_plate", "small_portion"))
            meal: dict[str, Any] = {
                "kind": kind,
                "meal_at": start.replace(hour=rng.choice((7, 12, 18))).isoformat(),
                "diners": rng.randint(1, 6),
            }
            if kind == "small_portion":
                meal["portion_reduction_kg"] = round(rng.uniform(0.05, 1.5), 2)
            text = json.dumps(meal)
        out.append(numbers.loads(text))
    return out


def cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        # numbers.loads kept the non-integer weights as text: write them unquoted, as sent
        text = json.dumps(value, separators=(",", ":"))
        for item in value:
            w = item.get("weight_kg")
            if isinstance(w, str):
                text = text.replace(f'"weight_kg":"{w}"', f'"weight_kg":{w}')
        return text
    return str(value)


def columns(activities: list[dict[str, Any]]) -> pl.DataFrame:
    names = sorted({k for a in activities for k in a})
    return pl.DataFrame(
        {k: [cell(a.get(k)) for a in activities] for k in names},
        schema={k: pl.String for k in names},
    )


def main(rows: int) -> None:
    print(f"{rows} typical records per module; µs per record (best of 3 for the batch form)")
    print(
        "| module | scalar quantify | quantify_batch | ratio | rows on the fast path "
        "| validate_batch | window_batch |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for code in ("public_transit", "bike_sharing", "waste_sorting", "food_waste"):
        for version in registry.module_versions(code):
            m = registry.get(code, version)
            params = m.default_params()
            activities = typical(code, rows)
            frame = columns(activities)
            t0 = time.perf_counter()
            scalar = [m.quantify(a, params) for a in activities]
            t_scalar = time.perf_counter() - t0
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                batch = m.quantify_batch(frame, params)
                best = min(best, time.perf_counter() - t0)
            t0 = time.perf_counter()
            m.validate_batch(frame, params)
            t_valid = time.perf_counter() - t0
            t0 = time.perf_counter()
            m.window_batch(frame)
            t_window = time.perf_counter() - t0
            fast = batch.height - batch["reduction_g"].null_count()
            expected = [(q.baseline_g, q.project_g, q.reduction_g) for q in scalar]
            assert batch.rows() == expected, f"{code} {version}: batch differs from scalar"
            print(
                f"| {code} {version} | {t_scalar / rows * 1e6:.1f} | {best / rows * 1e6:.2f} "
                f"| ×{t_scalar / best:.0f} | {fast / rows:.0%} "
                f"| {t_valid / rows * 1e6:.2f} | {t_window / rows * 1e6:.2f} |"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
