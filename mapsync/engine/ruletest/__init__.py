"""Rule tests (``mapsync test``): records in, the record plan a pass would make checked, coverage out.

``cases`` reads the ``*.test.yaml`` files, ``matchers`` compiles expected values, ``runner`` decides one test
with the pass's own code against in-memory systems, ``coverage`` counts what the tests exercised, ``suite``
runs them all and ``report`` renders the results as text, JSON, JUnit XML or GitHub annotations.
docs/testing.md documents the format.
"""

from mapsync.engine.ruletest.suite import SuiteResult, run_suite

__all__ = ["SuiteResult", "run_suite"]
