"""Role x route entries for issue 19's pages: forest and badges, notifications, teams
(merged into test_access_matrix.MATRIX)."""

from __future__ import annotations

RESIDENT = "resident"

ENGAGEMENT_MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/badges"): {RESIDENT},
    ("GET", "/on-the-way"): {RESIDENT},
    ("GET", "/nearby"): {RESIDENT},
    ("POST", "/admin/merchants/<int:merchant_id>/location"): {"admin"},
    ("GET", "/notifications"): {RESIDENT},
    ("POST", "/notifications/push"): {RESIDENT},
    ("POST", "/notifications/push/delete"): {RESIDENT},
    ("GET", "/teams"): {RESIDENT},
    ("POST", "/teams"): {RESIDENT},
    ("GET", "/teams/join"): {RESIDENT},
    ("POST", "/teams/join"): {RESIDENT},
    ("GET", "/teams/rankings"): {RESIDENT},
    # another resident's team answers 404 (tests/security/test_object_access.py)
    ("GET", "/teams/<int:team_id>"): {RESIDENT},
    ("POST", "/teams/<int:team_id>/goal"): {RESIDENT},
    ("POST", "/teams/<int:team_id>/donate"): {RESIDENT},
    ("POST", "/teams/<int:team_id>/privacy"): {RESIDENT},
    ("POST", "/teams/<int:team_id>/leave"): {RESIDENT},
}

ENGAGEMENT_SAMPLE_ARGS: dict[str, str] = {"team_id": "1"}
