"""Role x route entries for the events feature (merged into test_access_matrix.MATRIX)."""

from __future__ import annotations

ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER = (
    "anonymous",
    "resident",
    "merchant_staff",
    "organiser",
    "admin",
    "partner",
)
PUBLIC = {ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER}

EVENTS_MATRIX: dict[tuple[str, str], set[str]] = {
    # API: organisers' events (another organiser's event answers 404, tested separately)
    ("GET", "/api/v1/events"): {ORGANISER},
    ("POST", "/api/v1/events"): {ORGANISER},
    ("GET", "/api/v1/events/<int:event_id>"): {ORGANISER, ADMIN},
    ("POST", "/api/v1/events/<int:event_id>/footprints/<any(planned, actual):stage>"): {ORGANISER},
    ("POST", "/api/v1/events/<int:event_id>/plans"): {ORGANISER},
    ("POST", "/api/v1/plans/<int:plan_id>/submit"): {ORGANISER},
    ("GET", "/api/v1/events/<int:event_id>/retirements"): {ORGANISER, ADMIN},
    ("POST", "/api/v1/events/<int:event_id>/retirements"): {ORGANISER},
    # API: administrators' review and follow-through
    ("POST", "/api/v1/admin/plans/<int:plan_id>/<any(approve, return):decision>"): {ADMIN},
    ("POST", "/api/v1/admin/plans/<int:plan_id>/plantings"): {ADMIN},
    ("POST", "/api/v1/admin/plantings/<int:planting_id>/survival-checks"): {ADMIN},
    ("GET", "/api/v1/admin/plantings/<int:planting_id>/measurements"): {ADMIN},
    ("POST", "/api/v1/admin/plantings/<int:planting_id>/measurements"): {ADMIN},
    ("GET", "/api/v1/events/<int:event_id>/forest-credits"): {ORGANISER, ADMIN},
    ("POST", "/api/v1/admin/events/<int:event_id>/certificate"): {ADMIN},
    # API: public verification and projects; residents donate
    ("GET", "/api/v1/certificates/<code>"): PUBLIC,
    ("GET", "/api/v1/projects"): PUBLIC,
    ("GET", "/api/v1/projects/<int:plan_id>"): PUBLIC,
    ("POST", "/api/v1/projects/<int:plan_id>/donations"): {RESIDENT},
    # organiser pages (the report is also open to administrators)
    ("GET", "/organiser/events/new"): {ORGANISER},
    ("POST", "/organiser/events/new"): {ORGANISER},
    ("GET", "/organiser/events/<int:event_id>"): {ORGANISER},
    ("GET", "/organiser/events/<int:event_id>/footprint/<any(planned, actual):stage>"): {ORGANISER},
    ("POST", "/organiser/events/<int:event_id>/footprint/<any(planned, actual):stage>"): {
        ORGANISER
    },
    ("GET", "/organiser/events/<int:event_id>/report/<any(planned, actual):stage>"): {
        ORGANISER,
        ADMIN,
    },
    ("GET", "/organiser/events/<int:event_id>/report/<any(planned, actual):stage>.pdf"): {
        ORGANISER,
        ADMIN,
    },
    ("GET", "/organiser/events/<int:event_id>/plan"): {ORGANISER},
    ("POST", "/organiser/events/<int:event_id>/plan"): {ORGANISER},
    ("POST", "/organiser/plans/<int:plan_id>/submit"): {ORGANISER},
    ("POST", "/organiser/events/<int:event_id>/retire"): {ORGANISER},
    # public pages; residents donate
    ("GET", "/verify/<code>"): PUBLIC,
    ("GET", "/verify/<code>/certificate.pdf"): PUBLIC,
    ("GET", "/projects"): PUBLIC,
    ("GET", "/projects/<int:plan_id>"): PUBLIC,
    ("POST", "/projects/<int:plan_id>/donate"): {RESIDENT},
    ("GET", "/projects/<int:plan_id>/photos/<int:planting_id>/<int:index>"): PUBLIC,
    # admin console
    ("GET", "/admin/events"): {ADMIN},
    ("GET", "/admin/events/<int:event_id>"): {ADMIN},
    ("POST", "/admin/plans/<int:plan_id>/<any(approve, return):decision>"): {ADMIN},
    ("POST", "/admin/plans/<int:plan_id>/plantings"): {ADMIN},
    ("POST", "/admin/plantings/<int:planting_id>/survival"): {ADMIN},
    ("POST", "/admin/plantings/<int:planting_id>/measurement"): {ADMIN},
    ("POST", "/admin/events/<int:event_id>/certificate"): {ADMIN},
}
EVENTS_SAMPLE_ARGS: dict[str, str] = {
    "event_id": "1",
    "plan_id": "1",
    "planting_id": "1",
    "index": "0",
}
