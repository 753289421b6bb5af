"""Irreversible steps show exactly what they do first, and act only on the confirmation:
unlinking a data source, reissuing a household card, rotating a partner's key, a refund."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.actions.claims import active_card
from backend.actions.identities import bindings_of
from backend.events import forest
from backend.events.models import FootprintStage
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.partners.models import Partner
from backend.rewards import services as rewards

from ..backend.events.helpers import plan_data, worked_event
from ..helpers import link_proven
from .plain_words import visible_text


def test_unlinking_a_source_shows_what_stops_then_unlinks(client, make, auth, db):
    partner, _, _ = make.partner("home-bus")
    resident = make.resident()
    binding = link_proven(resident, "home-bus", "CARD7777")
    auth.login_page(resident)
    preview = client.post(f"/sources/{binding.id}/revoke")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="preview"' in html
    assert partner.name in html and "****7777" in html
    assert bindings_of(resident.id)[0].status.value == "active"
    done = client.post(f"/sources/{binding.id}/revoke", data={"confirm": "1"})
    assert done.status_code == 302
    db.session.expire_all()
    assert bindings_of(resident.id)[0].status.value == "revoked"


def test_a_first_card_is_issued_at_once_a_reissue_is_previewed(client, make, auth, db):
    resident = make.resident()
    auth.login_page(resident)
    first = client.post("/card", follow_redirects=True).get_data(as_text=True)
    assert "已办好" in first and "旧卡即刻失效" not in first  # no "old card": there was none
    card = active_card(resident.id)
    preview = client.post("/card").get_data(as_text=True)
    assert 'id="preview"' in preview and "旧卡将立即" in preview
    assert active_card(resident.id).id == card.id  # still the same card
    client.post("/card", data={"confirm": "1"})
    db.session.expire_all()
    assert active_card(resident.id).id != card.id


def test_rotating_a_partner_key_is_previewed(client, make, auth, db):
    partner, key_id, _ = make.partner("rot-bus")
    admin = make.user("admin")
    auth.login_page(admin, admin=True)
    preview = client.post("/admin/partners", data={"rotate": "rot-bus"})
    html = preview.get_data(as_text=True)
    assert 'id="preview"' in html and key_id in html and "24" in html
    db.session.expire_all()
    assert len(db.session.scalar(select(Partner).where(Partner.code == "rot-bus")).keys) == 1
    done = client.post("/admin/partners", data={"rotate": "rot-bus", "confirm": "1"})
    assert done.status_code == 200
    db.session.expire_all()
    assert len(db.session.scalar(select(Partner).where(Partner.code == "rot-bus")).keys) == 2


def test_a_refund_is_previewed_with_its_points_and_resident(client, make, auth, db):
    seed_versions()
    merchant = make.merchant(kind=MerchantKind.RETAIL)
    staff = make.staff(merchant)
    resident = make.resident()
    make.points(resident, 150)
    redemption = rewards.redeem_offer(resident, make.offer(merchant, points_price=150).id)
    rewards.fulfil_redemption(staff, code=redemption.short_code)
    auth.login_page(staff)
    home = client.get("/merchant").get_data(as_text=True)
    assert f"/merchant/redemptions/{redemption.id}/refund" in home
    preview = client.get(f"/merchant/redemptions/{redemption.id}/refund").get_data(as_text=True)
    assert "150" in preview and resident.masked_phone in preview and "不能撤回" in preview
    assert rewards.get_redemption(redemption.id).status.value == "fulfilled"
    client.post(f"/merchant/redemptions/{redemption.id}/refund", data={"reason": "退货"})
    db.session.expire_all()
    assert rewards.get_redemption(redemption.id).status.value == "refunded"


def test_the_new_event_form_shows_every_problem_at_once(client, make, auth, db):
    auth.login_page(make.user("organiser"))
    page = client.post(
        "/organiser/events/new",
        data={
            "name": "",
            "venue": "",
            "district": "",
            "starts_on": "2027-05-02",
            "ends_on": "2027-05-01",
            "expected_participants": "x",
        },
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    for field in ("name", "venue", "district", "ends_on", "expected_participants"):
        assert f'id="{field}-error"' in html, field
    assert 'value="2027-05-02"' in html  # what was typed stays


def test_a_planting_defaults_to_the_plans_species(client, make, auth, db):
    seed_versions()
    organiser, admin = make.user("organiser"), make.user("admin")
    event = worked_event(organiser, FootprintStage.ACTUAL)
    mix = [{"species": "camphor", "share": "0.7"}, {"species": "chinese_fir", "share": "0.3"}]
    plan = forest.create_plan(organiser, event.id, plan_data(mix))
    forest.submit_plan(organiser, plan.id)
    forest.review_plan(admin, plan.id, True)
    auth.login_page(admin, admin=True)
    html = client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert re.search(r'<option value="camphor" selected>', html)
    assert not re.search(r'<option value="chinese_fir" selected>', html)


def test_the_report_says_a_plan_is_under_review_while_it_is(client, make, auth, db):
    seed_versions()
    organiser = make.user("organiser")
    event = worked_event(organiser)
    plan = forest.create_plan(organiser, event.id, plan_data())
    forest.submit_plan(organiser, plan.id)
    auth.login_page(organiser)
    html = client.get(f"/organiser/events/{event.id}/report/planned").get_data(as_text=True)
    assert "正在由项目办公室审核" in html and "尚无获批方案" not in html


def test_the_new_offer_form_shows_every_problem_on_its_field_in_words(client, make, auth, db):
    staff = make.staff(make.merchant())
    auth.login_page(staff)
    form = {
        "title_zh": "",
        "points_price": "-5",
        "stock": "abc",
        "valid_from": "2026-12-10T10:00",
        "valid_until": "2026-12-01T10:00",
    }
    bad = client.post("/merchant/offers/new", data=form, headers={"Accept-Language": "zh-CN"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "尚未提交" in html
    for field in ("title_zh", "points_price", "stock", "valid_until"):
        assert f'aria-describedby="{field}-error"' in html, field
    assert "截止时间须晚于开始时间" in html and "请填写不小于 1 的整数" in html
    assert not re.search(r"valid_until|points_price|：stock", visible_text(html))
    assert 'value="abc"' in html  # what was typed stays
