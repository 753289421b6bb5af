"""Actions API: partner batches (HMAC), residents' sources, claims, self-reports, review."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema
from werkzeug.exceptions import UnsupportedMediaType

from ..accounts.models import Role
from ..auth import api_roles, api_user
from ..extensions import db, limiter
from ..partners.auth import current_partner, partner_required
from ..qr import format_short_code
from ..ratelimit import caller_key
from ..schemas import ErrorSchema, IdempotencyHeaderSchema
from . import claims, identities, ingest, numbers, queries, self_reports
from .exceptions import InvalidActivity
from .schemas import (
    ActionDetailSchema,
    ActionReviewSchema,
    ActionSchema,
    AppealSchema,
    BatchAcceptedSchema,
    BatchArgsSchema,
    BatchSchema,
    BindingCreateSchema,
    BindingSchema,
    CardSchema,
    ClaimCodeSchema,
    ClaimSchema,
    PartnerPublicSchema,
    SelfReportFormSchema,
)

blp = Blueprint(
    "actions",
    __name__,
    url_prefix="/api/v1",
    description="Green actions: partner batches, claims, self-reports, review",
)
resident_only = api_roles(Role.RESIDENT)
staff_only = api_roles(Role.MERCHANT_STAFF)
admin_only = api_roles(Role.ADMIN)

BATCH_RECORD = {
    "type": "object",
    "properties": {
        "record_id": {"type": "string", "description": "your own id; a resend is a duplicate"},
        "action": {"type": "string", "description": "public_transit, bike_sharing, ..."},
        "identity": {"type": "string", "description": "your id of the resident (card, account)"},
        "activity": {"type": "object", "description": "the methodology's activity fields"},
    },
}
BATCH_RECORDS = {"type": "array", "maxItems": 10000, "items": BATCH_RECORD}
BATCH_CSV = "a header row record_id,action,identity, then the activity fields (UTF-8)"
BATCH_BODY = {
    "description": (
        "Up to 10,000 records, in any of four forms: a JSON object with `records`, a bare JSON "
        "array of records, a CSV body, or a multipart/form-data upload with one file in the "
        "field `file` (CSV or JSON, told by the part's content type, else by a .csv or .json "
        "name). The signature's body hash is over the request body exactly as sent (for an "
        "upload, the whole multipart body)."
    ),
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["records"],
                        "properties": {"records": BATCH_RECORDS},
                    },
                    BATCH_RECORDS,
                ]
            }
        },
        "text/csv": {"schema": {"type": "string", "description": BATCH_CSV}},
        ingest.MULTIPART: {
            "schema": {
                "type": "object",
                "required": [ingest.UPLOAD_FIELD],
                "properties": {
                    ingest.UPLOAD_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": f"the records as a CSV ({BATCH_CSV}) or JSON file",
                    }
                },
            },
            "encoding": {
                ingest.UPLOAD_FIELD: {
                    "contentType": "text/csv, application/json, application/octet-stream"
                }
            },
        },
    },
}
BATCH_ERRORS = {
    413: "more than 10,000 records (`batch_too_large`) or a body over the size limit",
    415: "another content type, or an uploaded file neither CSV nor JSON",
    422: "the body or the uploaded file is not records in an accepted form (`invalid_batch`)",
    429: "more than 120 batches a minute",
    503: "the processing queue is unavailable; nothing was stored, retry later",
}


class PhotoFormSchema(Schema):
    photo = Upload(required=True)


def batch_errors(func: Any) -> Any:
    for status, description in BATCH_ERRORS.items():
        func = blp.alt_response(status, schema=ErrorSchema, description=description)(func)
    return func


@blp.route("/partner/batches")
class Batches(MethodView):
    decorators = [limiter.limit("120 per minute", key_func=caller_key)]

    @partner_required
    @blp.doc(requestBody=BATCH_BODY)
    @blp.response(202, BatchAcceptedSchema)
    @batch_errors
    def post(self) -> dict[str, Any]:
        """Push up to 10,000 activity records (JSON, CSV or a file upload); processed later.

        Send a JSON object `{"records": [...]}`, a bare JSON array of records, a CSV body
        (`Content-Type: text/csv`) or a multipart/form-data upload with the file in the field
        `file`. Sign the request over the body bytes as sent. The answer comes at once with
        the batch id; `GET /partner/batches/{batch_id}` shows progress and outcomes.

        Time rules, judged against the moment the batch arrived: a record dated more than
        5 minutes after it (`dated_in_future`), more than 30 days before it
        (`outside_claim_window`), or more than 30 days before the resident linked the identity
        (`before_consent`) is `rejected` with that reason. Caps count per local (Asia/Shanghai)
        day of the action's own time, and the action is quantified under the methodology
        version in force at that time. Numbers are read exactly (a JSON number is never
        passed through a float; CSV and JSON give the same grams); credits are rounded down.
        """
        content_type = (request.mimetype or "").lower()
        if content_type not in ingest.BATCH_TYPES:
            raise UnsupportedMediaType()
        files = request.files if content_type == ingest.MULTIPART else None
        batch = ingest.receive_batch(
            current_partner(), request.get_data(cache=True), content_type, files
        )
        db.session.refresh(batch)
        return {"batch_id": batch.id, "status": batch.status.value, "received": batch.total}


@blp.route("/partner/batches/<int:batch_id>")
class Batch(MethodView):
    @partner_required
    @blp.arguments(BatchArgsSchema, location="query")
    @blp.response(200, BatchSchema)
    def get(self, args: dict[str, Any], batch_id: int) -> dict[str, Any]:
        """Progress and per-record outcomes of one of your batches (paginated).

        `status` is `queued|processing|done|failed`. Each record's `outcome` is exactly one of
        `credited|rejected|unmatched|duplicate|flagged` (`flagged`: held back, for review or
        until crediting resumes); why is in `reason`, a stable code (e.g. `dated_in_future`,
        `outside_claim_window`, `before_consent`, `daily_limit_reached`, `speed_implausible`,
        `awaiting_verification`). New reasons may appear; new outcome words never do.
        """
        batch = ingest.get_batch(current_partner(), batch_id)
        return {
            "batch_id": batch.id,
            "status": batch.status.value,
            "progress": {"processed": batch.processed, "total": batch.total},
            "outcomes": ingest.batch_outcomes(batch, args["page"], args["per_page"]),
            "resent": ingest.resent_summary(batch),
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/partners")
class Partners(MethodView):
    @blp.response(200, PartnerPublicSchema(many=True))
    def get(self) -> Any:
        """Data partners a resident can link an identity to."""
        return identities.partners_for_binding()


@blp.route("/me/bindings")
class Bindings(MethodView):
    @resident_only
    @blp.response(200, BindingSchema(many=True))
    def get(self) -> Any:
        """Your linked data sources and their consent status."""
        return identities.bindings_of(api_user().id)

    @resident_only
    @blp.arguments(BindingCreateSchema)
    @blp.response(201, BindingSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Link a card or account at a partner and consent to receive its data."""
        return identities.bind_identity(api_user(), data["partner"], data["identity"])


@blp.route("/me/bindings/<int:binding_id>")
class BindingDetail(MethodView):
    @resident_only
    @blp.response(200, BindingSchema)
    def delete(self, binding_id: int) -> Any:
        """Unlink and withdraw consent: later records from this source earn nothing."""
        return identities.revoke_binding(api_user(), binding_id)


@blp.route("/me/claim-codes")
class ClaimCodes(MethodView):
    decorators = [limiter.limit("30 per minute", key_func=caller_key)]

    @resident_only
    @blp.response(201, ClaimCodeSchema)
    def post(self) -> dict[str, Any]:
        """A fresh personal QR token and short code (about 60 seconds, single use)."""
        claim = claims.new_claim_code(api_user())
        return {
            "token": claims.claim_token(claim),
            "code": format_short_code(claim.code),
            "expires_at": claim.expires_at,
        }


@blp.route("/me/household-card")
class Card(MethodView):
    decorators = [limiter.limit("5 per hour", key_func=caller_key)]

    @resident_only
    @blp.response(201, CardSchema)
    def post(self) -> dict[str, Any]:
        """Issue a printable household card (revokes the previous one)."""
        card = claims.issue_card(api_user())
        return {
            "token": claims.card_token(card),
            "issued_at": card.issued_at,
        }


def _exact_activity(parsed: Any) -> Any:
    """The request's ``activity`` read again with exact numbers (the schema's JSON parser
    has turned decimals into floats); what the schema gave when the body is not JSON."""
    try:
        body = numbers.loads(request.get_data(cache=True))
    except ValueError:
        return parsed
    return body.get("activity", parsed) if isinstance(body, dict) else parsed


@blp.route("/claims")
class Claims(MethodView):
    decorators = [limiter.limit("120 per minute", key_func=caller_key)]

    @staff_only
    @blp.arguments(ClaimSchema)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, ActionSchema)
    def post(self, data: dict[str, Any], headers: dict[str, Any]) -> Any:
        """Station or restaurant staff confirm a resident's action by QR, code or card.

        Send an Idempotency-Key: repeating the request with the same key returns the first
        result and credits nothing more (the key is kept per staff member; reusing it for a
        different claim is a 409 idempotency_conflict). Without a key, or with a new one, the
        dedupe rules decide, e.g. a second claim with the same household card."""
        return claims.submit_claim(
            api_user(),
            _exact_activity(data["activity"]),
            token=data["token"],
            code=data["code"],
            card=data["card"],
            idempotency_key=headers["idempotency_key"],
        )


@blp.route("/me/actions")
class MyActions(MethodView):
    @resident_only
    @blp.response(200, ActionSchema(many=True))
    def get(self) -> Any:
        """Your actions, newest first, with their status."""
        return queries.actions_of(api_user().id)


@blp.route("/me/actions/<bigid:record_id>")
class MyAction(MethodView):
    @resident_only
    @blp.response(200, ActionDetailSchema)
    def get(self, record_id: int) -> Any:
        """One action with its step-by-step calculation, methodology version and sources."""
        return self_reports.own_record(api_user(), record_id)


@blp.route("/me/actions/<bigid:record_id>/appeal")
class Appeal(MethodView):
    @resident_only
    @blp.arguments(AppealSchema)
    @blp.response(200, ActionSchema)
    def post(self, data: dict[str, Any], record_id: int) -> Any:
        """Appeal a rejection from review, once; another administrator decides."""
        return self_reports.appeal_record(api_user(), record_id, data["text"])


@blp.route("/me/self-reports")
class SelfReports(MethodView):
    decorators = [limiter.limit("20 per hour", key_func=caller_key)]

    @resident_only
    @blp.arguments(SelfReportFormSchema, location="form")
    @blp.arguments(PhotoFormSchema, location="files")
    @blp.response(201, ActionSchema)
    def post(self, form: dict[str, Any], files: dict[str, Any]) -> Any:
        """Report an action no partner reports, with a photo; it goes to review."""
        try:
            activity = numbers.loads(form["activity"])  # numbers exact, never through float
        except ValueError:
            raise InvalidActivity(problem="activity is not JSON", field="activity") from None
        return self_reports.submit_self_report(api_user(), form["action"], activity, files["photo"])


@blp.route("/admin/review-queue")
class ReviewQueue(MethodView):
    @admin_only
    @blp.response(200, ActionSchema(many=True))
    def get(self) -> Any:
        """Actions waiting for review: self-reports, anomaly flags, appeals (oldest first)."""
        return queries.review_queue()


@blp.route("/admin/actions/<bigid:record_id>/<any(approve, reject):decision>")
class Review(MethodView):
    @admin_only
    @blp.arguments(ActionReviewSchema)
    @blp.response(200, ActionSchema)
    def post(self, data: dict[str, Any], record_id: int, decision: str) -> Any:
        """Approve (then verified and credited) or reject with a reason."""
        return self_reports.review_record(
            api_user(), record_id, decision == "approve", data["comment"]
        )
