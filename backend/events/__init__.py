"""Carbon-neutral events: footprints, 碳中和林 planting plans, retirements, certificates."""
