"""The reporting read model: the administrators' dashboard (figures, tables, charts,
filters) and the monthly reports, read-only over every feature's tables; ``admin/dashboard.py``
serves it."""
