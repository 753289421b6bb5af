"""The bench's page sessions, issued ahead (loadtests/tokens.py), are real signed-in
sessions: with one the resident home is the page, not a redirect to /login (which the
bench would otherwise measure as a cheap request)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from backend.accounts.services import user_for_token
from loadtests import tokens
from loadtests.tokens import sessions_for, tokens_for
from tests.factories import Factories


def test_an_issued_session_opens_the_home(app: Flask, client: Any, make: Factories) -> None:
    resident = make.resident()
    (cookie,) = sessions_for(app, [resident.phone])
    client.set_cookie("session", cookie)
    response = client.get("/home")
    assert response.status_code == 200


def test_without_a_session_the_home_redirects(client: Any) -> None:
    assert client.get("/home").status_code == 302


def test_tokens_and_sessions_issued_in_batches_all_work(
    app: Flask, client: Any, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issued a few at a time (one commit per batch), every resident still gets a working
    token and a working page session, and the batches together cover every phone."""
    monkeypatch.setattr(tokens, "BATCH", 2)
    residents = [make.resident() for _ in range(5)]
    issued = tokens_for([r.phone for r in residents])
    assert sorted(user_for_token(raw).id for raw in issued) == sorted(r.id for r in residents)
    cookies = sessions_for(app, [r.phone for r in residents])
    assert len(cookies) == 5
    for cookie in cookies:
        client.set_cookie("session", cookie)
        assert client.get("/home").status_code == 200
