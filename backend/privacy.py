"""Residents' data rights (PIPL): see and export their data, choose the leaderboard, and
delete the account. Deleting anonymises: the person's identifiers go, the ledger and the
reductions stay (points and credits must still reconcile), tied to an anonymous account."""

from __future__ import annotations

import csv
import io
import secrets
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from .accounts.exceptions import NicknameRequired, WrongPassword
from .accounts.models import ApiToken, PhoneCode, User, UserSession
from .accounts.phone_codes import phone_hash
from .accounts.services import hash_password, verify_password
from .actions.models import (
    ActivityRecord,
    BindingStatus,
    HouseholdCard,
    IdentityBinding,
    Outcome,
)
from .actions.reasons import reason
from .audit.models import AuditEntry
from .audit.services import record_audit
from .crypto import keyed_hash
from .extensions import db
from .ledger.queries import history
from .notices.models import Notice
from .notifications.models import Notification
from .notifications.services import forget_devices
from .rewards.models import Redemption
from .teams.models import TeamMember
from .timeutil import local, utcnow
from .uploads import image_path

# An activity record's times a deleted account keeps only as the local day.
ANONYMISED_TIMES = (
    "received_at",
    "occurred_start",
    "occurred_end",
    "verified_at",
    "reviewed_at",
    "appealed_at",
)


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
        "household_cards": [
            {
                "id": c.id,
                "issued_at": c.issued_at.isoformat(),
                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in db.session.scalars(
                select(HouseholdCard).where(HouseholdCard.resident_id == user.id)
            )
        ],
        "appeals": [
            {
                "action_id": r.id,
                "text": r.appeal_text,
                "at": r.appealed_at.isoformat() if r.appealed_at else None,
            }
            for r in records
            if r.appeal_text
        ],
        "photos": [
            {"action_id": r.id, "file": r.evidence_path, "sha256": r.evidence_hash}
            for r in records
            if r.evidence_path
        ],
        "sessions": [
            {
                "signed_in_at": s.created_at.isoformat(),
                "last_seen_at": s.last_seen_at.isoformat(),
                "ended_at": s.revoked_at.isoformat() if s.revoked_at else None,
            }
            for s in db.session.scalars(select(UserSession).where(UserSession.user_id == user.id))
        ],
        "audit": [
            {"at": e.at.isoformat(), "action": e.action, "address": e.ip}
            for e in db.session.scalars(
                select(AuditEntry)
                .where(
                    or_(
                        AuditEntry.actor_id == user.id,
                        (AuditEntry.object_type == "user") & (AuditEntry.object_id == str(user.id)),
                    )
                )
                .order_by(AuditEntry.id)
            )
        ],
        "teams": [
            {
                "team_id": m.team_id,
                "joined_at": m.joined_at.isoformat(),
                "left_at": m.left_at.isoformat() if m.left_at else None,
                "show_nickname": m.show_nickname,
            }
            for m in db.session.scalars(select(TeamMember).where(TeamMember.resident_id == user.id))
        ],
        "notifications": [
            {"at": n.created_at.isoformat(), "kind": n.kind, "params": n.params}
            for n in db.session.scalars(
                select(Notification).where(Notification.resident_id == user.id)
            )
        ],
        "notices": [
            {"at": n.created_at.isoformat(), "topic": n.topic, "text": n.text}
            for n in db.session.scalars(select(Notice).where(Notice.user_id == user.id))
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


def _local_midnight(value: datetime | None) -> datetime | None:
    """The start of the value's local day (Asia/Shanghai), in UTC: the day without the time."""
    if value is None:
        return None
    day = local(value).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.astimezone(UTC)


def delete_account(user: User, password: str) -> None:
    """Delete the resident's account as ``backend.personal_data`` lays out: identifiers,
    texts, photos (files too), linked identities, exact times and addresses go; the ledger
    and the reductions stay, tied to an anonymous account, so reconcile and recompute stay
    clean."""
    if not verify_password(user.password_hash, password or ""):
        # the resident is signed in: only the password can be wrong, never the number
        raise WrongPassword(field="password")
    now = utcnow()
    photos: list[str] = []
    records = db.session.scalars(
        select(ActivityRecord).where(ActivityRecord.resident_id == user.id)
    ).all()
    for record in records:
        if record.outcome in (Outcome.PENDING, Outcome.REVIEW):
            record.outcome = Outcome.REJECTED
            record.reason_code = "account_deleted"
            record.reason = reason("account_deleted")
        if record.evidence_path:
            photos.append(record.evidence_path)
        record.evidence_path = None
        record.identity_hash = None
        record.activity = {}  # a credited action's inputs stay in its reduction
        record.appeal_text = None
        record.review_comment = ""
        for name in ANONYMISED_TIMES:
            setattr(record, name, _local_midnight(getattr(record, name)))
    for binding in db.session.scalars(
        select(IdentityBinding).where(IdentityBinding.resident_id == user.id)
    ):
        if binding.status in (BindingStatus.ACTIVE, BindingStatus.CLAIMED):
            binding.status = BindingStatus.REVOKED
            binding.revoked_at = now
        binding.identity_hash = keyed_hash(secrets.token_hex(16), purpose="deleted")
        binding.identity_hint = ""
        binding.consented_at = _local_midnight(binding.consented_at) or now
        binding.confirmed_at = _local_midnight(binding.confirmed_at)
        binding.link_code = None
        binding.link_code_expires_at = None
    for card in db.session.scalars(
        select(HouseholdCard).where(HouseholdCard.resident_id == user.id)
    ):
        card.revoked_at = card.revoked_at or now
        card.issued_at = _local_midnight(card.issued_at) or now
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    if user.phone:
        db.session.execute(delete(PhoneCode).where(PhoneCode.phone_hash == phone_hash(user.phone)))
    forget_devices(user.id)
    db.session.execute(delete(Notification).where(Notification.resident_id == user.id))
    db.session.execute(delete(Notice).where(Notice.user_id == user.id))
    for member in db.session.scalars(select(TeamMember).where(TeamMember.resident_id == user.id)):
        member.joined_at = _local_midnight(member.joined_at) or now
        member.left_at = _local_midnight(member.left_at) or now
        member.show_nickname = False
    user.phone = None
    user.nickname = None
    user.leaderboard_opt_in = False
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.last_login_at = None
    user.locked_until = None
    user.suspended_reason = None
    user.totp_secret_encrypted = None
    user.totp_confirmed_at = None
    user.recovery_code_hashes = None
    user.totp_last_step = None
    user.deleted_at = now
    user.session_version += 1
    record_audit(user, "account.delete", "user", user.id)
    db.session.flush()
    record_ids = [str(record.id) for record in records]
    db.session.execute(
        update(AuditEntry)
        .where(
            or_(
                AuditEntry.actor_id == user.id,
                (AuditEntry.object_type == "user") & (AuditEntry.object_id == str(user.id)),
                (AuditEntry.object_type == "activity_record")
                & AuditEntry.object_id.in_(record_ids),
            )
        )
        .values(ip=None, details={})
    )
    db.session.commit()
    for photo in photos:  # after the commit: a rolled-back deletion keeps its photos
        with suppress(FileNotFoundError):
            image_path(photo).unlink()
