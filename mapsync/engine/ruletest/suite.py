"""A rule set's test suite: find the test files, read them, run every test, measure coverage.

``run_suite`` is what ``mapsync test`` calls: the rule set is already loaded and valid; the mapping each test
names is bound to the field catalogues once, and every test runs against its own in-memory systems
(``mapsync.engine.ruletest.runner``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mapsync.connectors.catalogue import Catalogue, load_catalogue
from mapsync.engine.diagnostics import Diagnostic, Severity
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.ruletest.cases import find_test_files, read_tests
from mapsync.engine.ruletest.coverage import Coverage
from mapsync.engine.ruletest.runner import TestResult, run_test
from mapsync.engine.sync.bound import bind_ruleset


@dataclass
class SuiteResult:
    """Every test's result, the problems found in the test files, and the coverage."""

    files: list[str]
    diagnostics: list[Diagnostic]
    results: list[TestResult] = field(default_factory=list)
    coverage: Coverage | None = None

    @property
    def failed(self) -> list[TestResult]:
        return [r for r in self.results if not r.passed]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.failed and not self.errors


def catalogues_of(ruleset: RuleSet) -> dict[Side, Catalogue]:
    return {side: load_catalogue(ruleset.system(side).connector) for side in Side}


def run_suite(ruleset: RuleSet, paths: Sequence[Path] | None = None, *, name_filter: str = "") -> SuiteResult:
    """Run the tests of ``paths`` (default: every ``*.test.yaml`` of the rule set's folder) whose name contains
    ``name_filter``."""
    catalogues = catalogues_of(ruleset)
    files = list(paths) if paths is not None else find_test_files(Path(ruleset.folder))
    read = read_tests(files, ruleset, catalogues)
    bound = {b.name: b for b in bind_ruleset(ruleset, catalogues)}
    coverage = Coverage(bound.values(), thaw(ruleset.settings))
    suite = SuiteResult(read.files, read.diagnostics, coverage=coverage)
    for test in read.tests:
        if name_filter and name_filter.lower() not in test.name.lower():
            continue
        mapping = bound[test.mapping]
        result = run_test(test, ruleset, catalogues, mapping)
        suite.results.append(result)
        assert result.outcome is not None
        coverage.observe(mapping, result.records, result.lines, skipped=result.outcome.action == "skip")
    return suite
