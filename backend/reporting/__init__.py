"""The reporting read model: the administrators' dashboard (figures, tables, charts,
filters) and the monthly reports, read-only over every feature's tables; ``admin/dashboard.py``
serves it.

``queries`` gathers the dashboard from the tables of ``activity`` (reductions, points,
residents) and ``operations`` (partner batches, review queue, anomaly flags), built with the
helpers of ``sql``; ``tables`` and ``charts`` present them, ``reports`` prints them.
"""
