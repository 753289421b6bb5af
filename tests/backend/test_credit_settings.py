"""Settings that decide credits are checked at start: nonsense stops the app with a clear
message instead of expiring every point or minting some (issue 14, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.app import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("POINTS_EXPIRY_MONTHS", -2, "POINTS_EXPIRY_MONTHS must be a whole number from 1"),
        ("POINTS_EXPIRY_MONTHS", 0, "POINTS_EXPIRY_MONTHS must be a whole number from 1"),
        ("CLAIM_WINDOW_RESIDENT_DAYS", 0, "CLAIM_WINDOW_RESIDENT_DAYS"),
        ("CLAIM_WINDOW_PARTNER_DAYS", 100_000, "CLAIM_WINDOW_PARTNER_DAYS"),
        ("ACTION_CLOCK_SKEW_SECONDS", -1, "ACTION_CLOCK_SKEW_SECONDS"),
        ("ACTION_CLOCK_SKEW_SECONDS", 86_400, "ACTION_CLOCK_SKEW_SECONDS"),
        ("BURST_LIMIT", 0, "BURST_LIMIT"),
        ("CARD_CAP_FACTOR", "2", "CARD_CAP_FACTOR must be a number above 0 and at most 1"),
        ("CARD_CAP_FACTOR", "half", "CARD_CAP_FACTOR"),
        ("POINTS_EXPIRY_MONTHS", "24 months", "not '24 months'"),
    ],
)
def test_nonsense_credit_settings_stop_the_app(name, value, words):
    with pytest.raises(RuntimeError) as refused:
        create_app({name: value})
    assert "Refusing to start" in str(refused.value) and words in str(refused.value)


def test_the_defaults_and_sensible_values_start():
    app = create_app({"POINTS_EXPIRY_MONTHS": 36, "CLAIM_WINDOW_PARTNER_DAYS": 14})
    assert app.config["CLAIM_WINDOW_RESIDENT_DAYS"] == 7
    assert app.config["ACTION_CLOCK_SKEW_SECONDS"] == 300


def test_an_environment_variable_that_is_not_a_number_is_a_clear_message_not_a_traceback():
    env = {
        **os.environ,
        "APP_ENV": "test",
        "POINTS_EXPIRY_MONTHS": "-2",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend.app", "routes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "POINTS_EXPIRY_MONTHS must be a whole number from 1 to 600" in done.stderr
    assert "not -2" in done.stderr
