"""Opt-in teams (household, community 社区, workplace, class) and co-planting (合种)."""
