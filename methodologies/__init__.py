"""Pure-Python quantification of carbon-inclusion actions and events.

Importing this package registers every methodology module. It must never import flask,
sqlalchemy or the backend (a test checks this).
"""

# Importing a module registers it (each module decorates its class with @register).
from . import (  # noqa: E402,F401,I001  # noqa: E402,F401,I001
    afforestation,
    bike_sharing,
    event_footprint,
    food_waste,
    public_transit,
    registry,
    waste_sorting,
)
from .base import (
    ActivityError,
    Methodology,
    Parameter,
    Quantification,
    Rejection,
    Source,
    Step,
    Text,
    Window,
    params_hash,
)

get = registry.get
available = registry.available

__all__ = [
    "ActivityError",
    "Methodology",
    "Parameter",
    "Quantification",
    "Rejection",
    "Source",
    "Step",
    "Text",
    "Window",
    "available",
    "get",
    "params_hash",
    "registry",
]
