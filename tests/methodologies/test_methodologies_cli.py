"""``python -m methodologies``: run as a real subprocess, as an operator would."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import methodologies

ROOT = Path(__file__).resolve().parents[2]
BUS = {
    "mode": "bus",
    "distance_km": 8.2,
    "started_at": "2025-03-01T08:00:00+08:00",
    "ended_at": "2025-03-01T08:30:00+08:00",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "methodologies", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_quantify_prints_one_json_answer():
    done = cli("quantify", "public_transit", "--activity", json.dumps(BUS))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    defaults = methodologies.registry.get_class("public_transit").default_params()
    assert answer["code"] == "public_transit"
    assert answer["version"] == "2.0.0"  # the latest module version: rounds down
    assert answer["params_hash"] == methodologies.params_hash(defaults)
    # (100 − 56.2) g/pkm × 8.2 km = 820 − 460.84 = 359.16 → ⌊359.16⌋ = 359 (⌈460.84⌉ = 461)
    assert (answer["baseline_g"], answer["project_g"], answer["reduction_g"]) == (820, 461, 359)
    assert answer["rejections"] == []
    assert answer["steps"][-1]["value"] == "359"


def test_params_override_changes_result_and_hash():
    done = cli(
        "quantify", "public_transit", "--activity", json.dumps(BUS),
        "--params", '{"ef_bus_g_pkm": 50}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["reduction_g"] == 410  # (100 − 50) × 8.2
    assert answer["params"]["ef_bus_g_pkm"] == "50"
    defaults = methodologies.registry.get_class("public_transit").default_params()
    assert answer["params_hash"] != methodologies.params_hash(defaults)


def test_rejection_is_a_valid_answer():
    activity = {"kind": "clean_plate", "meal_at": "2025-03-01T23:00:00+08:00"}
    done = cli("quantify", "food_waste", "--activity", json.dumps(activity))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert [r["code"] for r in answer["rejections"]] == ["outside_meal_slot"]
    assert answer["rejections"][0]["reason"]["zh_CN"]
    assert (answer["baseline_g"], answer["project_g"], answer["reduction_g"]) == (0, 0, 0)
    assert answer["steps"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quantify", "teleport", "--activity", "{}"], "unknown methodology"),
        (["quantify", "public_transit", "--activity", "{not json"], "not valid JSON"),
        (["quantify", "public_transit", "--activity", '{"mode": "bus"}'], "malformed activity"),
        (["quantify", "public_transit", "--activity", "[1, 2]"], "malformed activity"),
        (
            ["quantify", "public_transit", "--activity", json.dumps(BUS), "--params",
             '{"ef_plane_g_pkm": 1}'],
            "unknown parameter",
        ),
        (
            ["quantify", "public_transit", "--activity", json.dumps(BUS), "--params",
             '{"ef_bus_g_pkm": "lots"}'],
            "must be a number",
        ),
        (
            ["quantify", "bike_sharing", "--activity",
             json.dumps({**BUS, "mode": None, "bike_type": "pedal"}), "--params",
             '{"share_bus": 0.9}'],
            "sum to 1",
        ),
    ],
)  # fmt: skip
def test_errors_exit_2_with_a_message(args, message):
    done = cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_list_is_readable():
    done = cli("list")
    assert done.returncode == 0, done.stderr
    for code in ("public_transit", "bike_sharing", "waste_sorting", "food_waste"):
        assert f"{code} 2.0.0" in done.stdout
    assert "grid_ef_kg_per_kwh = 0.5153 kgCO2/kWh  [B]" in done.stdout
    assert "follows:" in done.stdout


def test_list_json():
    done = cli("list", "--json")
    assert done.returncode == 0, done.stderr
    listing = {m["code"]: m for m in json.loads(done.stdout)}
    assert set(listing) == set(methodologies.available())
    food = listing["food_waste"]
    assert food["dedupe_group"] == "meal"
    names = {p["name"]: p for p in food["parameters"]}
    assert names["plate_waste_g_per_diner"]["value"] == "74.16"
    assert names["plate_waste_g_per_diner"]["source"]["grade"] == "A"
