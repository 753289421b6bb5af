"""Security and reliability tests: their figures are printed at the end of the run."""

from __future__ import annotations

from typing import Any

from .figures import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.write_sep("=", "security and reliability figures")
    for section, values in FIGURES.items():
        figures = "; ".join(f"{key} {value}" for key, value in values.items())
        terminalreporter.write_line(f"{section}: {figures}")
