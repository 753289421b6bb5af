from __future__ import annotations

import pytest

from backend.methodology_versions.services import seed_versions


@pytest.fixture(autouse=True)
def versions(request):
    """The approved methodology versions (event_footprint, afforestation, ...), in the
    per-test rolled-back database (tests on real commits seed their own)."""
    if "committed" in request.fixturenames:
        return
    request.getfixturevalue("db")
    seed_versions()


@pytest.fixture
def organiser(make):
    return make.user("organiser")


@pytest.fixture
def admin(make):
    return make.user("admin")


@pytest.fixture
def english(app):
    """Messages in English, as an API request with Accept-Language: en gets them."""
    with app.test_request_context("/api/v1/", headers={"Accept-Language": "en"}):
        yield
