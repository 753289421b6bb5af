"""The bench's page sessions, issued ahead (loadtests/tokens.py), are real signed-in
sessions: with one the resident home is the page, not a redirect to /login (which the
bench would otherwise measure as a cheap request)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from loadtests.tokens import sessions_for
from tests.factories import Factories


def test_an_issued_session_opens_the_home(app: Flask, client: Any, make: Factories) -> None:
    resident = make.resident()
    (cookie,) = sessions_for(app, [resident.phone])
    client.set_cookie("session", cookie)
    response = client.get("/home")
    assert response.status_code == 200


def test_without_a_session_the_home_redirects(client: Any) -> None:
    assert client.get("/home").status_code == 302
