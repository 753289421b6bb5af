"""A meal is listed at the time it was eaten, not at the start of its meal slot."""

from __future__ import annotations

from backend.actions.models import ActivityRecord, Channel


def test_a_meal_at_0612_is_listed_at_0612(client, make, auth, db):
    resident = make.resident()
    record = ActivityRecord(
        channel=Channel.CLAIM,
        action="food_waste",
        resident_id=resident.id,
        activity={"kind": "clean_plate", "diners": 1, "meal_at": "2026-11-20T06:12:00+08:00"},
        flags=[],
    )
    db.session.add(record)
    db.session.commit()
    auth.login_page(resident)
    html = client.get("/actions").get_data(as_text=True)
    assert "06:12" in html and "05:00" not in html
