from __future__ import annotations

import pytest

from .dataset import NOW, Programme, build


@pytest.fixture
def programme(make) -> Programme:
    return build(make)


@pytest.fixture
def frozen_now(monkeypatch):
    """The dashboard's "now" (review-queue ages, days elapsed) fixed at dataset.NOW."""
    import admin.dashboard
    from backend.reporting import queries, reports

    monkeypatch.setattr(queries, "utcnow", lambda: NOW)
    monkeypatch.setattr(admin.dashboard, "utcnow", lambda: NOW)
    monkeypatch.setattr(reports, "utcnow", lambda: NOW)
    return NOW
