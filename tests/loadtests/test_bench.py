"""The bench's spawn: the realistic mix's users arrive over BENCH_SPAWN_SECONDS."""

from __future__ import annotations

import pytest

from loadtests import bench


def test_closed_loops_start_every_user_at_once():
    assert bench.spawning(50, 20, throughput=True) == (50.0, 0.0, 20)


def test_the_mix_spreads_arrivals_and_keeps_its_measured_seconds(monkeypatch):
    monkeypatch.setattr(bench, "SPAWN_SECONDS", 10.0)
    rate, ramp, run_seconds = bench.spawning(50, 40, throughput=False)
    assert (rate, ramp) == (5.0, 10.0)
    assert run_seconds == 50  # 40 s measured after the 10 s of arrivals


@pytest.mark.parametrize("spawn", [0.0, -1.0])
def test_no_spawn_time_is_the_stampede(monkeypatch, spawn):
    monkeypatch.setattr(bench, "SPAWN_SECONDS", spawn)
    assert bench.spawning(50, 40, throughput=False) == (50.0, 0.0, 40)
