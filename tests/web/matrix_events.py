"""Role x route entries for the events feature (merged into test_access_matrix.MATRIX)."""

from __future__ import annotations

EVENTS_MATRIX: dict[tuple[str, str], set[str]] = {}
EVENTS_SAMPLE_ARGS: dict[str, str] = {}
