from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from ..i18n import current_lang
from .services import version_class


class SourceSchema(Schema):
    document = fields.String()
    year = fields.Integer()
    grade = fields.String(metadata={"description": "evidence grade A-D"})
    note = fields.String()
    illustrative = fields.Boolean()


class ParameterSchema(Schema):
    name = fields.String()
    value = fields.String(metadata={"description": "decimal, as a string"})
    unit = fields.String()
    label = fields.String()
    source = fields.Nested(SourceSchema)


class VersionSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    number = fields.Integer()
    label = fields.String()
    module_version = fields.String()
    status = fields.Function(lambda v: v.status.value)
    params_hash = fields.String()
    points_per_gram = fields.String()
    effective_from = fields.DateTime(allow_none=True)
    note = fields.String()
    proposed_by_id = fields.Integer(allow_none=True)
    reviewed_by_id = fields.Integer(allow_none=True)
    review_comment = fields.String()
    parameters = fields.Method("get_parameters")

    def get_parameters(self, version: Any) -> list[dict[str, Any]]:
        cls = version_class(version)  # the module it was approved with
        lang = current_lang()
        out = []
        for p in cls.parameters:
            if p.name in version.params:
                out.append(
                    {
                        "name": p.name,
                        "value": version.params[p.name],
                        "unit": p.unit,
                        "label": p.label.get(lang),
                        "source": p.source.as_dict(),
                    }
                )
        return out


class MethodologySchema(Schema):
    """A methodology as residents read it: what it is, what it follows, its version in force."""

    code = fields.String()
    name = fields.String()
    summary = fields.String()
    follows = fields.String()
    version = fields.Nested(VersionSchema, allow_none=True)


class DraftSchema(Schema):
    params = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        load_default=dict,
        metadata={
            "description": "parameter name -> decimal (string or number); "
            "unspecified ones are copied from the "
            "version in force"
        },
    )
    points_per_gram = fields.Raw(load_default=None, allow_none=True)
    note = fields.String(load_default="")


class ReviewSchema(Schema):
    comment = fields.String(load_default="")
    effective_from = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)


class TotalsSchema(Schema):
    records = fields.Integer()
    current_g = fields.Integer()
    current_points = fields.Integer()
    proposed_g = fields.Integer()
    proposed_points = fields.Integer()


class RecomputedSchema(Schema):
    reduction_id = fields.Integer()
    action = fields.String()
    district = fields.String()
    local_day = fields.String()
    current_g = fields.Integer()
    current_points = fields.Integer()
    proposed_g = fields.Integer()
    proposed_points = fields.Integer()


class PreviewSchema(Schema):
    version_id = fields.Function(lambda p: p.version.id)
    in_force_id = fields.Function(lambda p: p.in_force.id if p.in_force else None)
    since = fields.DateTime()
    total = fields.Nested(TotalsSchema)
    by_action = fields.Dict(keys=fields.String(), values=fields.Nested(TotalsSchema))
    by_district = fields.Dict(keys=fields.String(), values=fields.Nested(TotalsSchema))
    sample = fields.List(fields.Nested(RecomputedSchema))
