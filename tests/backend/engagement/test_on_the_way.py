"""Credits on the way: each linked source's last batch and the next one expected, and the
records waiting, with why and until when."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend.actions.identities import bind_identity, confirm_by_partner
from backend.actions.models import PartnerBatch
from backend.engagement.on_the_way import sources_on_the_way
from backend.settings.services import set_setting
from backend.timeutil import aware, utcnow

from ..actions.test_self_reports import report
from .trips import Trips, trip_day


def test_a_source_shows_its_last_batch_and_the_next_expected(client, make, auth, db):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    html = client.get("/on-the-way?lang=en").get_data(as_text=True)
    assert "No linked sources." in html
    trips.card(resident)
    html = client.get("/on-the-way").get_data(as_text=True)
    assert "No batch from this source yet" in html and "not enough batches yet" in html
    for n in range(3):
        trips.push(resident, [(trip_day() - timedelta(days=n), 8.2)])
    # the operator's rhythm: one batch a day (arranged: the batches arrived 2, 1 and 0 days ago)
    now = utcnow().replace(microsecond=0)
    ids = db.session.scalars(select(PartnerBatch.id).order_by(PartnerBatch.id)).all()
    for batch_id, days in zip(ids, (2, 1, 0), strict=True):
        db.session.execute(
            update(PartnerBatch)
            .where(PartnerBatch.id == batch_id)
            .values(received_at=now - timedelta(days=days))
        )
    db.session.commit()
    [source] = sources_on_the_way(resident.id)
    assert aware(source.last_batch_at) == now
    assert aware(source.next_expected_at) == now + timedelta(days=1)
    html = client.get("/on-the-way").get_data(as_text=True)
    assert "Last batch arrived" in html and "Next batch expected around" in html
    assert trips.partner.name in html and source.identity_hint in html


def test_waiting_records_say_why_and_until_when(client, make, auth, db):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    client.get("/on-the-way?lang=en")
    assert "Nothing is waiting" in client.get("/on-the-way").get_data(as_text=True)
    report(client, auth.bearer(resident))  # a self-report: an administrator reviews it
    set_setting(make.user("admin"), "crediting_paused", 1)
    trips.push(resident, [(trip_day(), 8.2)])  # stays pending while crediting is paused
    html = client.get("/on-the-way").get_data(as_text=True)
    assert "review; no date is promised." in html
    assert "Being verified; decided by" in html
    assert html.count('class="row-between plain-link waiting"') == 2


def test_a_claimed_link_says_its_records_wait_for_confirmation(client, make, auth, db):
    resident = make.resident()
    partner, _, _ = make.partner("wait-bus", kind="transit")
    binding = bind_identity(resident, "wait-bus", "QZ55556666")  # the resident's word only
    auth.login_page(resident)
    [source] = sources_on_the_way(resident.id)
    assert source.claimed and source.code_until is not None
    html = client.get("/on-the-way?lang=en").get_data(as_text=True)
    assert "Waiting for confirmation" in html and partner.name in html
    assert "Your link code is valid until" in html
    confirm_by_partner(partner, "QZ55556666", binding.link_code)
    html = client.get("/on-the-way?lang=en").get_data(as_text=True)
    assert "Waiting for confirmation" not in html and not sources_on_the_way(resident.id)[0].claimed
