"""Role x route entries for issue 19's pages: forest and badges, notifications, teams
(merged into test_access_matrix.MATRIX)."""

from __future__ import annotations

RESIDENT = "resident"

ENGAGEMENT_MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/badges"): {RESIDENT},
    ("GET", "/notifications"): {RESIDENT},
    ("POST", "/notifications/push"): {RESIDENT},
    ("POST", "/notifications/push/delete"): {RESIDENT},
}

ENGAGEMENT_SAMPLE_ARGS: dict[str, str] = {}
