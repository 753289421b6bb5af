"""Reasons to come back, read from what already happened: the resident's forest, the weekly
streak and the milestones. Nothing here writes a balance or mints points: every figure is
derived from reductions and donations already in the ledger's books."""
