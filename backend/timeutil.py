"""Time helpers: store UTC with time zone, show Asia/Shanghai (DESIGN.md invariant 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local(value: datetime) -> datetime:
    return aware(value).astimezone(LOCAL_TZ)
