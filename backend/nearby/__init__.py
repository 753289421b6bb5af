"""Nearby: waste stations, clean-plate restaurants and merchants with offers, by distance."""
