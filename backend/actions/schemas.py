from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from ..i18n import current_lang
from ..schemas import MAX_INT
from .calculation import calculation


class BatchAcceptedSchema(Schema):
    batch_id = fields.Integer(required=True)
    status = fields.String(required=True)
    received = fields.Integer(required=True)


class OutcomeSchema(Schema):
    record_id = fields.String(allow_none=True)
    outcome = fields.String(
        metadata={
            "enum": ["credited", "rejected", "unmatched", "duplicate", "flagged"],
            "description": "exactly one of these five words (the contract); `flagged`: held "
            "back, for review or until verification resumes; why, in `reason`",
        }
    )
    reduction_g = fields.Integer(allow_none=True)
    points = fields.Integer(allow_none=True)
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "a stable code saying why, e.g. `dated_in_future` (dated after "
            "the batch arrived, beyond 5 minutes of clock skew), `outside_claim_window` (more "
            "than 30 days before the batch arrived), `before_consent` (more than 30 days "
            "before the resident linked the identity), `unmatched_identity`, "
            "`duplicate_action`, `resent_record`, `daily_cap_reached`, `speed_implausible`, "
            "`awaiting_verification`; new reasons may be added, never new outcome words"
        },
    )


class ProgressSchema(Schema):
    processed = fields.Integer()
    total = fields.Integer()


class ResentSchema(Schema):
    count = fields.Integer(
        metadata={"description": "records of the batch received before (or twice in it)"}
    )
    listed = fields.Integer(
        metadata={
            "description": "how many of them the outcomes list, after the stored records, as "
            "`duplicate` / `resent_record`: all of an API batch's; of a large file import the "
            "first ones only"
        }
    )


class BatchSchema(Schema):
    batch_id = fields.Integer()
    status = fields.String(metadata={"enum": ["queued", "processing", "done", "failed"]})
    progress = fields.Nested(ProgressSchema)
    outcomes = fields.List(
        fields.Nested(OutcomeSchema),
        metadata={
            "description": "one page: the stored records in order received, then the listed resends"
        },
    )
    resent = fields.Nested(ResentSchema)
    page = fields.Integer()
    per_page = fields.Integer()


class BatchArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_INT))
    per_page = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class PartnerPublicSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.Function(lambda p: p.kind.value)


class BindingSchema(Schema):
    id = fields.Integer()
    partner = fields.Function(lambda b: b.partner.code)
    partner_name = fields.Function(lambda b: b.partner.name)
    identity_hint = fields.String()
    status = fields.Function(lambda b: b.status.value)
    consented_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class BindingCreateSchema(Schema):
    partner = fields.String(required=True)
    identity = fields.String(required=True)
    consent = fields.Boolean(
        required=True,
        validate=validate.Equal(True),
        metadata={"description": "the resident agrees that the partner sends their activity data"},
    )


class ClaimCodeSchema(Schema):
    token = fields.String()
    code = fields.String()
    expires_at = fields.DateTime()


class CardSchema(Schema):
    token = fields.String()
    issued_at = fields.DateTime()


class ClaimSchema(Schema):
    token = fields.String(load_default=None, allow_none=True)
    code = fields.String(load_default=None, allow_none=True)
    card = fields.String(load_default=None, allow_none=True)
    activity = fields.Dict(load_default=dict)


class ActionSchema(Schema):
    id = fields.Integer()
    channel = fields.Function(lambda r: r.channel.value)
    action = fields.String()
    outcome = fields.Function(lambda r: r.outcome.value)
    reason_code = fields.String(allow_none=True)
    reason = fields.Method("get_reason", allow_none=True)
    received_at = fields.DateTime()
    occurred_start = fields.DateTime(allow_none=True)
    local_day = fields.String(allow_none=True)
    reduction_g = fields.Function(lambda r: r.reduction.credited_g if r.reduction else None)
    points = fields.Function(lambda r: r.reduction.points if r.reduction else None)
    can_appeal = fields.Function(
        lambda r: (
            r.outcome.value == "rejected" and r.reviewed_by_id is not None and r.appealed_at is None
        )
    )

    def get_reason(self, record: Any) -> str | None:
        if not record.reason:
            return None
        return str(record.reason.get(current_lang()) or record.reason.get("zh_CN"))


class ActionDetailSchema(ActionSchema):
    activity = fields.Dict()
    calculation = fields.Method("get_calculation", allow_none=True)

    def get_calculation(self, record: Any) -> dict[str, Any] | None:
        return calculation(record, current_lang())


class AppealSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ActionReviewSchema(Schema):
    comment = fields.String(load_default="")


class SelfReportFormSchema(Schema):
    action = fields.String(required=True)
    activity = fields.String(required=True, metadata={"description": "JSON object"})
