"""Test-wide settings: Hypothesis without wall-clock health checks or deadlines; the state store backends.

The machine has 2 cores and CI runs everything at once; property tests must fail on wrong answers,
not on a slow moment (speed is measured in benchmarks/, not in tests). ``tests/state_backends.py`` (a
plugin) opens stores of each backend, SQLite and PostgreSQL, for the tests that run against both;
``tests/redis_server.py`` (another) starts a Redis server of a test's own for the Celery worker tests.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("mapsync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mapsync")

# the state store backends (SQLite, and PostgreSQL when reachable); a Redis server of a test's own
pytest_plugins = ["tests.state_backends", "tests.redis_server"]


# -- the tally of the hostile rule-file corpus (tests/rules/test_hostile_cases.py) ------------------------------

_HOSTILE = "test_hostile_cases.py::test_hostile_case["
_hostile_tally = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):  # type: ignore[no-untyped-def]
    if _HOSTILE in report.nodeid and (report.when == "call" or report.outcome != "passed"):
        _hostile_tally[report.outcome] += 1


def pytest_terminal_summary(terminalreporter):  # type: ignore[no-untyped-def]
    tried = sum(_hostile_tally.values())
    if tried:
        terminalreporter.write_line(
            f"hostile rule files and expressions: {tried} cases tried, {_hostile_tally['passed']} held, "
            f"{_hostile_tally['failed']} failed, {_hostile_tally['skipped']} skipped")
