from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from backend.actions.models import Reduction
from backend.methodology_versions import services as versions

from ...helpers import DAY
from .conftest import bus


def test_recompute_check_passes_and_old_credits_keep_their_numbers(app, transit, rider, make, db):
    _, pusher = transit
    pusher.push([bus("rc-1")])
    a, b = make.user("admin"), make.user("admin")
    draft = versions.create_draft(a, "public_transit", {"ef_bus_g_pkm": "40"}, note="e-bus fleet")
    versions.submit_version(a, draft.id)
    versions.approve_version(b, draft.id)
    # as if approved at noon on DAY: rc-1 (08:00) was made under v1, rc-2 (18:00) under v2
    draft.effective_from = datetime.fromisoformat(f"{DAY}T12:00:00+08:00")
    db.session.commit()
    pusher.push([bus("rc-2", start=f"{DAY}T18:00:00+08:00", end=f"{DAY}T18:25:00+08:00")])
    # a late trip made before v2 took effect is quantified under v1, not v2
    pusher.push([bus("rc-late", start=f"{DAY}T10:00:00+08:00", end=f"{DAY}T10:25:00+08:00")])
    grams = sorted(db.session.scalars(select(Reduction.reduction_g)).all())
    assert grams == [359, 359, 492]  # (100-56.2)x8.2 with v1, (100-40)x8.2 with v2
    result = app.test_cli_runner().invoke(args=["methodologies", "recompute", "--check"])
    assert result.exit_code == 0, result.output
    assert "3 reductions checked, 0 differences" in result.output


def test_recompute_check_finds_a_tampered_reduction(app, transit, rider, db):
    _, pusher = transit
    pusher.push([bus("rc-3")])
    db.session.execute(update(Reduction).values(reduction_g=999))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["methodologies", "recompute", "--check"])
    assert result.exit_code == 1 and "DIFFERENCE" in result.output
