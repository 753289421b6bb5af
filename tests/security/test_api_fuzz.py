"""API fuzzing: schemathesis against /api/v1/openapi.json, in process, as every role.

Each operation of the OpenAPI document gets one Hypothesis run of valid requests
(``FUZZ_EXAMPLES`` per role the access matrix allows; path parameters are random or name real
objects) and one of invalid requests (half as many). Each case is sent as the allowed roles in
turn (bearer tokens, an administrator with TOTP, the partner's HMAC signature over the exact
bytes sent), and the first cases also as every other role, which must be refused. Every
response must

* not be a server error (no 500s),
* have a status code the document declares for the operation (401/403 are declared on every
  protected operation, the rest under ``default``, all with the ``ErrorSchema`` body),
* match the declared content type, headers and body schema,
* for invalid requests, be a 4xx (except a partner batch, accepted whole by contract, whose
  malformed records get their own ``rejected`` outcome).

Undeclared methods on every path must answer 405 with an ``Allow`` header and the error body.
Generation is deterministic (``derandomize``) so CI is reproducible; ``FUZZ_RANDOM=1``
explores new inputs. The figures go to the terminal summary.

Reproduce: ``.venv/bin/pytest tests/security/test_api_fuzz.py`` (add ``FUZZ_EXAMPLES=150
FUZZ_RANDOM=1`` for a longer, exploring run).
"""

from __future__ import annotations

import io
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask.globals import _cv_app
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from werkzeug.test import Client
from werkzeug.wrappers import Request

from backend.accounts.models import Role, User
from backend.accounts.services import issue_token
from backend.actions.ingest import receive_batch
from backend.actions.models import ActivityRecord
from backend.events.services import create_event
from backend.extensions import db as _db
from backend.merchants.models import MerchantKind
from backend.methodology_versions.models import MethodologyVersion
from backend.methodology_versions.services import seed_versions
from backend.partners.services import sign
from backend.rewards.services import redeem_offer

from ..helpers import as_json, link_proven, local_iso
from ..web.test_access_matrix import MATRIX
from .figures import record

ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER = (
    "anonymous",
    "resident",
    "merchant_staff",
    "organiser",
    "admin",
    "partner",
)
ROLES = (ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # per allowed role and operation
DENIED_EXAMPLES = 2  # a refused role only has to get a documented 401/403
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}

POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


def rule_to_path(rule: str) -> str:
    """``/offers/<int:offer_id>`` -> ``/offers/{offer_id}`` (Flask rule -> OpenAPI path)."""
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


ALLOWED = {(method, rule_to_path(rule)): roles for (method, rule), roles in MATRIX.items()}


class ActAs:
    """WSGI middleware in front of the app: authenticates each request as ``role``.

    Bearer roles get their token; the partner's request is HMAC-signed over the exact bytes
    schemathesis sends. Each request gets its own app context, as in production.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.role = ANON
        self.users: dict[str, Any] = {}
        self.tokens: dict[str, str] = {}
        self.partner_key: tuple[str, str] = ("", "")
        self.signed = 0
        self.ids: dict[str, int] = {}

    def _sign(self, environ: dict[str, Any]) -> None:
        request = Request(environ)
        body = request.get_data(cache=True)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        query = request.query_string.decode("latin-1")
        path = f"{request.path}?{query}" if query else request.path
        # a signature is accepted once: vary the timestamp so equal requests stay distinct
        self.signed += 1
        ts = str(int(time.time()) - self.signed % 240)
        key_id, secret = self.partner_key
        signature = sign(secret, environ["REQUEST_METHOD"], path, ts, body)
        environ["HTTP_X_TIMESTAMP"] = ts
        environ["HTTP_AUTHORIZATION"] = f"HMAC-SHA256 key_id={key_id},signature={signature}"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        token = _cv_app.set(None)  # type: ignore[arg-type]
        try:
            if self.role == PARTNER:
                self._sign(environ)
            elif self.role != ANON:
                bearer = self.tokens[self.role]
                if environ["REQUEST_METHOD"] == "DELETE" and environ["PATH_INFO"].endswith(
                    "/auth/token"
                ):
                    with self.app.app_context():  # revoking: spend a throw-away token
                        bearer, _ = issue_token(_db.session.get(User, self.users[self.role].id))
                environ["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
            return self.app(environ, start_response)
        finally:
            _cv_app.reset(token)


@pytest.fixture
def actor(app, db, auth, make):
    """The middleware, with one user per role, their tokens and a few real objects to hit."""
    seed_versions()
    middleware = ActAs(app)
    merchant = make.merchant(kind=MerchantKind.WASTE_STATION)
    users = {
        RESIDENT: make.resident(),
        STAFF: make.staff(merchant),
        ORGANISER: make.user(Role.ORGANISER),
        ADMIN: make.user(Role.ADMIN),
    }
    partner, key_id, secret = make.partner("fuzz-partner", kind="transit")
    binding = link_proven(users[RESIDENT], partner.code, "FUZZCARD1")
    make.points(users[RESIDENT], 5000)
    offer = make.offer(merchant)
    redemption = redeem_offer(users[RESIDENT], offer.id)
    trip = {"mode": "bus", "distance_km": 8.2, "started_at": local_iso(1)}
    trip["ended_at"] = local_iso(1, minute=25)
    record = {"record_id": "fz-1", "action": "public_transit", "identity": "FUZZCARD1"}
    batch = receive_batch(
        partner, as_json({"records": [{**record, "activity": trip}]}), "application/json"
    )
    event = create_event(
        users[ORGANISER],
        {
            "name": "衢州马拉松",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-02",
            "venue": "衢州体育中心",
            "district": "柯城区",
            "expected_participants": 500,
        },
    )
    middleware.users = users
    middleware.tokens = {role: auth.token(user) for role, user in users.items()}
    middleware.partner_key = (key_id, secret)
    middleware.ids = {
        "offer_id": offer.id,
        "redemption_id": redemption.id,
        "event_id": event.id,
        "binding_id": binding.id,
        "batch_id": batch.id,
        "record_id": _db.session.scalar(select(ActivityRecord.id).filter_by(batch_id=batch.id)),
        "version_id": _db.session.scalar(
            select(MethodologyVersion.id).filter_by(code="bike_sharing")
        ),
        "merchant_id": merchant.id,
    }
    return middleware


def _real_parameters(operation: Any, ids: dict[str, int]) -> dict[str, Any]:
    """Path parameters naming objects that exist, so requests reach past the 404."""
    names = {p.name for p in operation.path_parameters}
    found: dict[str, Any] = {name: ids[name] for name in names & ids.keys()}
    if "code" in names and "/methodologies/" in operation.path:
        found["code"] = "public_transit"
    return found


def _roles(method: str, path: str) -> tuple[list[str], list[str]]:
    """(roles fuzzed in depth, roles that must be refused); public: fuzzed anonymously."""
    allowed = ALLOWED[(method, path)]
    if allowed == set(ROLES):
        return [ANON], []
    return [r for r in ROLES if r in allowed], [r for r in ROLES if r not in allowed]


# By the partner contract (DESIGN.md) a batch is accepted as a whole and each malformed record
# in it is answered as its own ``rejected`` outcome, so invalid records are not a 4xx.
LENIENT = {("POST", "/api/v1/partner/batches")}


@dataclass
class Tally:
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    # (operation, role, check) -> (status, what failed and how to reproduce it)
    failures: dict[tuple[str, str, str], tuple[int, str]] = field(default_factory=dict)

    def fail(self, operation: str, role: str, title: str, status: int, detail: str) -> None:
        self.failures.setdefault((operation, role, title), (status, detail))

    def report(self) -> str:
        return "\n".join(
            f"{op} as {role}: {title} (status {status})\n    {detail}"
            for (op, role, title), (status, detail) in sorted(self.failures.items())
        )


def _fuzz(operation: Any, actor: ActAs, mode: GenerationMode, tally: Tally) -> None:
    """One Hypothesis run for the operation: each case goes to the roles allowed in turn,
    and the first cases also to every refused role."""
    method, path = operation.method.upper(), operation.path
    label = f"{method} {path}"
    allowed, refused = _roles(method, path)
    checks = POSITIVE_CHECKS
    if mode is GenerationMode.NEGATIVE and (method, path) not in LENIENT:
        checks = NEGATIVE_CHECKS
    strategy = operation.as_strategy(generation_mode=mode)
    real = _real_parameters(operation, actor.ids)
    if real and mode is GenerationMode.POSITIVE:
        strategy = strategy | operation.as_strategy(generation_mode=mode, path_parameters=real)
    budget = EXAMPLES * len(allowed) if mode is GenerationMode.POSITIVE else EXAMPLES // 2
    seen = Counter[str]()

    def send(case: Any, role: str) -> None:
        actor.role = role
        response = case.call()
        tally.examples[role] += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                detail = f"{failure.message[:400]}\n    {case.as_curl_command()[:600]}"
                tally.fail(label, role, failure.title, response.status_code, detail)

    @settings(
        max_examples=budget,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("FUZZ_RANDOM"),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        seen["cases"] += 1
        send(case, allowed[seen["cases"] % len(allowed)])
        if seen["cases"] <= DENIED_EXAMPLES:
            for role in refused:
                send(case, role)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE
    finally:
        actor.role = ANON


def test_every_operation_as_every_role(actor):
    # the middleware authenticates; generated Authorization headers would only be replaced
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", actor, config=config)
    tally = Tally()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        assert key in ALLOWED, f"{key} is not in the access matrix (tests/web)"
        _fuzz(operation, actor, GenerationMode.POSITIVE, tally)
        _fuzz(operation, actor, GenerationMode.NEGATIVE, tally)
    undeclared = _undeclared_methods(schema, actor, tally)
    record(
        "API fuzzing (schemathesis)",
        operations=len(operations),
        roles=len(ROLES),
        **{"examples per operation and allowed role": EXAMPLES},
        requests=sum(tally.examples.values()),
        **{"undeclared-method probes": undeclared},
        failures=len(tally.failures),
        statuses=dict(sorted(tally.statuses.items())),
    )
    assert not tally.failures, f"{len(tally.failures)} fuzzing failures:\n{tally.report()}"


def _undeclared_methods(schema: Any, app: Any, tally: Tally) -> int:
    """Each path answers a method it does not declare with 405, ``Allow`` and the error body."""
    client = Client(app)
    sent = 0
    for path, item in schema.raw_schema["paths"].items():
        declared = {m.upper() for m in item if m.upper() in HTTP_METHODS}
        url = re.sub(r"\{\w+\}", "1", path)
        if "{action}" in path or "{decision}" in path or "{stage}" in path:
            url = _first_enum_values(path, item)
        for method in sorted(HTTP_METHODS - declared)[:2]:
            sent += 1
            response = client.open(url, method=method)
            allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m}
            body = response.get_json(silent=True) or {}
            if response.status_code != 405 or not declared <= allow or "code" not in body:
                title = "undeclared method not answered 405 + Allow + error body"
                tally.fail(f"{method} {path}", ANON, title, response.status_code, url)
    return sent


def _first_enum_values(path: str, item: dict[str, Any]) -> str:
    """Fill enum path parameters (``{action}``: pause|resume) with an allowed value."""
    params = {}
    declared = [item.get("parameters", [])]
    declared += [op.get("parameters", []) for op in item.values() if isinstance(op, dict)]
    for parameters in declared:
        for param in parameters:
            enum = param.get("schema", {}).get("enum")
            params[param["name"]] = str(enum[0]) if enum else "1"
    return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), "1"), path)
