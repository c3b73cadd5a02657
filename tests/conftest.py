"""Test-wide settings: Hypothesis without wall-clock health checks or deadlines.

The machine has 2 cores and CI runs everything at once; property tests must fail on wrong answers,
not on a slow moment (speed is measured in benchmarks/, not in tests).
"""

from hypothesis import HealthCheck, settings

settings.register_profile("mapsync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mapsync")
