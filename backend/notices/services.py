"""Telling users things: ``notify`` adds a notice to the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import force_locale
from sqlalchemy import select

from ..accounts.models import Role, User
from ..extensions import db
from .models import Notice


def notify(
    user_ids: Iterable[int],
    topic: str,
    zh_cn: str,
    en: str,
    *,
    ref: tuple[str, object] | None = None,
    dedupe: str | None = None,
) -> list[Notice]:
    """One notice per user (the caller commits). With ``dedupe``, a user already holding a
    notice of that key gets no second one."""
    out = []
    for user_id in sorted(set(user_ids)):
        key = f"{dedupe}:{user_id}" if dedupe else None
        if key and db.session.scalar(select(Notice.id).where(Notice.dedupe_key == key)):
            continue
        notice = Notice(
            user_id=user_id,
            topic=topic,
            text={"zh_CN": zh_cn, "en": en},
            ref_type=ref[0] if ref else None,
            ref_id=str(ref[1]) if ref else None,
            dedupe_key=key,
        )
        db.session.add(notice)
        out.append(notice)
    db.session.flush()
    return out


def admin_ids() -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.role == Role.ADMIN)))


def in_both(text: Any) -> tuple[str, str]:
    """A translated text in Chinese and in English, to store: a lazy ``_l()`` string, or a
    function calling ``_()``."""
    render = text if callable(text) else text.__str__
    with force_locale("zh_CN"):
        zh = str(render())
    with force_locale("en"):
        en = str(render())
    return zh, en
