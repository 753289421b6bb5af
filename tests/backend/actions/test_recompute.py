from __future__ import annotations

from sqlalchemy import select, update

from backend.actions.models import Reduction
from backend.methodology_versions import services as versions

from .conftest import bus


def test_recompute_check_passes_and_old_credits_keep_their_numbers(app, transit, rider, make, db):
    _, pusher = transit
    pusher.push([bus("rc-1")])
    a, b = make.user("admin"), make.user("admin")
    draft = versions.create_draft(a, "public_transit", {"ef_bus_g_pkm": "40"})
    versions.submit_version(a, draft.id)
    versions.approve_version(b, draft.id)
    pusher.push([bus("rc-2", start="2026-11-25T18:00:00+08:00", end="2026-11-25T18:25:00+08:00")])
    grams = sorted(db.session.scalars(select(Reduction.reduction_g)).all())
    assert grams == [359, 492]  # (100-56.2)x8.2 with v1, (100-40)x8.2 with v2
    result = app.test_cli_runner().invoke(args=["methodologies", "recompute", "--check"])
    assert result.exit_code == 0, result.output
    assert "2 reductions checked, 0 differences" in result.output


def test_recompute_check_finds_a_tampered_reduction(app, transit, rider, db):
    _, pusher = transit
    pusher.push([bus("rc-3")])
    db.session.execute(update(Reduction).values(reduction_g=999))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["methodologies", "recompute", "--check"])
    assert result.exit_code == 1 and "DIFFERENCE" in result.output
