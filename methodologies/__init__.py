"""Pure-Python quantification of carbon-inclusion actions and events.

Importing this package registers every methodology module. It must never import flask,
sqlalchemy or the backend (a test checks this).
"""

from . import registry
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

# Importing a module registers it (each module decorates its class with @register).
from . import public_transit, bike_sharing, waste_sorting, food_waste  # noqa: E402,F401,I001

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
