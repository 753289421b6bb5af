"""The figures of the security and reliability tests, printed at the end of the run
(tests/security/conftest.py) and quoted in the README's "Security and reliability"."""

from __future__ import annotations

from typing import Any

FIGURES: dict[str, dict[str, Any]] = {}


def record(section: str, **values: Any) -> None:
    FIGURES.setdefault(section, {}).update(values)
