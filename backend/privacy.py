"""Residents' data rights (PIPL): see and export their data, choose the leaderboard, and
delete the account. Deleting anonymises: the person's identifiers go, the ledger and the
reductions stay (points and credits must still reconcile), tied to an anonymous account."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Any

from sqlalchemy import select, update

from .accounts.exceptions import InvalidCredentials, NicknameRequired
from .accounts.models import User
from .accounts.services import hash_password, verify_password
from .actions.models import ActivityRecord, BindingStatus, HouseholdCard, IdentityBinding
from .audit.services import record_audit
from .extensions import db
from .ledger.queries import history
from .rewards.models import Redemption
from .timeutil import utcnow


def set_leaderboard(user: User, opt_in: bool, nickname: str | None = None) -> User:
    if nickname is not None and nickname.strip():
        user.nickname = nickname.strip()[:20]
    if opt_in and not user.nickname:
        raise NicknameRequired(field="nickname")
    user.leaderboard_opt_in = opt_in
    record_audit(user, "privacy.leaderboard", "user", user.id, opt_in=opt_in)
    db.session.commit()
    return user


def export_data(user: User) -> dict[str, Any]:
    """Everything the platform holds about the resident, as plain data."""
    records = db.session.scalars(
        select(ActivityRecord)
        .where(ActivityRecord.resident_id == user.id)
        .order_by(ActivityRecord.id)
    ).all()
    return {
        "profile": {
            "phone": user.phone,
            "nickname": user.nickname,
            "district": user.district,
            "registered_at": user.created_at.isoformat(),
            "leaderboard_opt_in": user.leaderboard_opt_in,
        },
        "data_sources": [
            {
                "partner": b.partner.code,
                "identity": b.identity_hint,
                "status": b.status.value,
                "consented_at": b.consented_at.isoformat(),
                "revoked_at": b.revoked_at.isoformat() if b.revoked_at else None,
            }
            for b in db.session.scalars(
                select(IdentityBinding).where(IdentityBinding.resident_id == user.id)
            )
        ],
        "actions": [
            {
                "id": r.id,
                "channel": r.channel.value,
                "action": r.action,
                "activity": r.activity,
                "outcome": r.outcome.value,
                "reason": r.reason_code,
                "received_at": r.received_at.isoformat(),
                "reduction_g": r.reduction.credited_g if r.reduction else None,
                "points": r.reduction.points if r.reduction else None,
                "methodology_version_id": r.reduction.version_id if r.reduction else None,
            }
            for r in records
        ],
        "points": [
            {
                "entry": h.entry_id,
                "kind": h.kind.value,
                "points": h.amount,
                "at": h.at.isoformat(),
                "memo": h.memo,
            }
            for h in history(user.id, 100_000)
        ],
        "redemptions": [
            {
                "id": r.id,
                "offer_id": r.offer_id,
                "points": r.points,
                "status": r.status.value,
                "created_at": r.created_at.isoformat(),
            }
            for r in db.session.scalars(select(Redemption).where(Redemption.resident_id == user.id))
        ],
    }


def export_csv(user: User) -> str:
    """The actions and the points movements as one CSV (a spreadsheet-friendly export)."""
    data = export_data(user)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "id", "kind", "detail", "grams", "points", "at"])
    for a in data["actions"]:
        writer.writerow(
            [
                "action",
                a["id"],
                a["action"],
                a["outcome"],
                a["reduction_g"] or "",
                a["points"] or "",
                a["received_at"],
            ]
        )
    for p in data["points"]:
        writer.writerow(["points", p["entry"], p["kind"], p["memo"], "", p["points"], p["at"]])
    for r in data["redemptions"]:
        writer.writerow(
            ["redemption", r["id"], r["status"], r["offer_id"], "", -r["points"], r["created_at"]]
        )
    return out.getvalue()


def delete_account(user: User, password: str) -> None:
    """Delete the resident's account: identifiers removed, history kept anonymously."""
    if not verify_password(user.password_hash, password or ""):
        raise InvalidCredentials(field="password")
    now = utcnow()
    db.session.execute(
        update(IdentityBinding)
        .where(
            IdentityBinding.resident_id == user.id, IdentityBinding.status == BindingStatus.ACTIVE
        )
        .values(status=BindingStatus.REVOKED, revoked_at=now)
    )
    db.session.execute(
        update(HouseholdCard)
        .where(HouseholdCard.resident_id == user.id, HouseholdCard.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    user.phone = None
    user.nickname = None
    user.leaderboard_opt_in = False
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.deleted_at = now
    user.session_version += 1
    record_audit(user, "account.delete", "user", user.id)
    db.session.commit()
