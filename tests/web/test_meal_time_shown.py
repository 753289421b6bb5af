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


def test_what_was_reported_is_in_words_and_beijing_time(client, make, auth, db):
    """The counter stores its times in UTC: the page shows them as Beijing time, and the
    categories, meal kinds and modes by their names, never the stored codes."""
    resident = make.resident()
    records = [
        ActivityRecord(
            channel=channel,
            action=action,
            resident_id=resident.id,
            activity=activity,
            flags=[],
        )
        for channel, action, activity in (
            (
                Channel.CLAIM,
                "waste_sorting",
                {
                    "items": [{"category": "paper", "weight_kg": "2.5"}],
                    "collected_at": "2026-11-20T05:43:00+00:00",
                    "weighed": True,
                },
            ),
            (
                Channel.CLAIM,
                "food_waste",
                {"kind": "clean_plate", "diners": 2, "meal_at": "2026-11-20T04:10:00+00:00"},
            ),
            (
                Channel.SELF_REPORT,
                "bike_sharing",
                {
                    "bike_type": "ebike",
                    "distance_km": "3.2",
                    "started_at": "2026-11-20T10:00:00Z",
                    "ended_at": "2026-11-20T10:15:00Z",
                },
            ),
        )
    ]
    db.session.add_all(records)
    db.session.commit()
    auth.login_page(resident)
    waste, meal, bike = (
        client.get(f"/actions/{r.id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        for r in records
    )
    assert "纸类 2.5 kg · 2026-11-20 13:43" in waste and "paper" not in waste
    assert "光盘 · × 2 · 2026-11-20 12:10" in meal and "clean_plate" not in meal
    assert "电动自行车 · 3.2 km · 2026-11-20 18:00 – 2026-11-20 18:15" in bike
