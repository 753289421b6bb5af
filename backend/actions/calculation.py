"""How an action's reduction was computed, for the resident: version, factors, sources, steps."""

from __future__ import annotations

from typing import Any

import methodologies

from ..extensions import db
from ..methodology_versions.models import MethodologyVersion
from .models import ActivityRecord


def calculation(record: ActivityRecord, lang: str) -> dict[str, Any] | None:
    """The calculation behind a credited action. The steps are re-derived from the stored
    inputs and the exact version (what ``recompute --check`` verifies), not stored."""
    reduction = record.reduction
    if reduction is None:
        return None
    version = db.session.get(MethodologyVersion, reduction.version_id)
    cls = methodologies.registry.get_class(reduction.methodology_code, reduction.module_version)
    params = version.params if version else {}
    steps = []
    if version is not None:
        steps = list(cls().quantify(reduction.activity, version.decimal_params()).steps)
    return {
        "methodology": reduction.methodology_code,
        "name": cls.name.get(lang),
        "follows": cls.follows,
        "version": f"v{version.number}" if version else None,
        "module_version": reduction.module_version,
        "params_hash": reduction.params_hash,
        "baseline_g": reduction.baseline_g,
        "project_g": reduction.project_g,
        "reduction_g": reduction.reduction_g,
        "credited_g": reduction.credited_g,
        "points": reduction.points,
        "steps": [
            {
                "label": s.label.get(lang),
                "expression": s.expression,
                "value": s.value,
                "unit": s.unit,
            }
            for s in steps
        ],
        "factors": [
            {
                "name": p.name,
                "label": p.label.get(lang),
                "value": params.get(p.name),
                "unit": p.unit,
                "source": p.source.as_dict(),
            }
            for p in cls.parameters
            if p.name in params
        ],
    }
