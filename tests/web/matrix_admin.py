"""Role x route entries for the admin console (merged into test_access_matrix.MATRIX)."""

from __future__ import annotations

ADMIN = "admin"

ADMIN_MATRIX: dict[tuple[str, str], set[str]] = {
    # the second sign-in step: administrators only (others: 403, or the sign-in page)
    ("GET", "/admin/2fa"): {ADMIN},
    ("POST", "/admin/2fa"): {ADMIN},
    ("GET", "/admin/2fa/setup"): {ADMIN},
    ("POST", "/admin/2fa/setup"): {ADMIN},
    # dashboard exports and reports
    ("GET", "/admin/export/<name>.csv"): {ADMIN},
    ("GET", "/admin/reports"): {ADMIN},
    ("GET", "/admin/reports/<key>"): {ADMIN},
    ("GET", "/admin/reports/<key>.pdf"): {ADMIN},
    # people and organisations, audit log, programme caps
    ("GET", "/admin/people"): {ADMIN},
    ("GET", "/admin/residents"): {ADMIN},
    ("GET", "/admin/people/<int:user_id>"): {ADMIN},
    ("POST", "/admin/people/<int:user_id>/<any(suspend, restore):action>"): {ADMIN},
    ("GET", "/admin/organisers"): {ADMIN},
    ("POST", "/admin/organisers"): {ADMIN},
    ("GET", "/admin/administrators"): {ADMIN},
    ("GET", "/admin/audit"): {ADMIN},
    ("GET", "/admin/settings"): {ADMIN},
    ("POST", "/admin/settings"): {ADMIN},
}

ADMIN_SAMPLE_ARGS = {"name": "reductions_by_action", "key": "2026-02", "user_id": "1"}
