"""Carbon-neutral events: footprints, 碳中和林 planting plans, retirements, certificates.

Flow: an organiser creates an event, records the planned activity data (an estimate) and,
after the event, the actual data (the 碳计量报告); sizes a 碳中和林 plan with the
afforestation methodology and submits it; may retire verified 碳普惠 reductions to cover
part of the footprint. An administrator approves or returns the plan, records what was
planted and later survival checks, and issues the certificate once the actual footprint is
covered. Residents donate points to approved plans (planting projects).

Retirements: each retired reduction is a row of the register (``ReductionRetirement``, with
its serial number) and, in the same transaction, a RETIRE ledger entry keyed by that serial
moving its grams from the ledger's reduction pool to the retirement account
(``ledger.services.post_retirements``). The ledger counts these two accounts in grams CO2e,
not points (ledger/models.py, 5.): the register is in grams, and residents keep the points
they earned. Reductions are retired whole, oldest first, so the last one may retire more
than was asked: the rows returned say what was retired, and where retirements go beyond the
footprint the standing, the pages, the report and the certificate show by how much
(``Standing.retired_beyond_g``). Retiring part of a reduction instead would leave a
remainder that no retirement could take (each reduction is retired at most once).

Every footprint and plan stores the methodology version id and parameter hash in force when
it was computed (reproducible reports). Every function validates all input before it adds
anything to the session, and rolls back on any error: nothing is saved half-way.

The modules, one sub-concept each (each function owns its transaction):

* ``services``      events and footprints, and the small parsers the others share
* ``forest``        planting plans, plantings and survival checks (碳中和林)
* ``retirements``   the register and its RETIRE ledger entries
* ``certificates``  certificates and their public verification
* ``donations``     residents' donations of points to planting projects
* ``queries``       the read side: standings, projects, the retirement pool
* ``reports``       the 碳计量报告 and certificate as PDF/HTML
* ``routes``        the API; the pages are in ``mobile_web/events.py`` and ``admin/events.py``

They import downwards only: ``routes -> certificates/retirements/forest ->
services/queries/donations -> models/exceptions``.
"""
