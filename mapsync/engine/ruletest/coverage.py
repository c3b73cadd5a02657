"""Rule test coverage: which field rules, conditions and value-map entries the tests exercised.

Coverage is computed from the tests' records with the engine's own reading code (``fieldmerge.read``, the
compiled conditions), after each test has run, so the per-record path of a pass carries no bookkeeping:

- a **field rule** is exercised when a test that was not skipped gave it a value to carry (a non-empty
  value on the side it reads, its default standing in for an empty one, or its constant);
- a **condition** has two outcomes, true and false; each must be seen by some test's record;
- a **value-map entry** (``map``, or an explicit ``map_reverse``) is exercised when a test's value is
  looked up and found there; a ``map`` read backwards (no ``map_reverse``) counts its entries either way.

Line rules (delivery lines <-> order rows) count with the line records the tests give.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mapsync.engine.diagnostics import Location
from mapsync.engine.diagnostics.formats import shown_file
from mapsync.engine.expressions import ExpressionError, as_record
from mapsync.engine.extractors import MISSING
from mapsync.engine.ruleset import Side
from mapsync.engine.sync.bound import BoundMapping, BoundRule, RuleGroup
from mapsync.engine.sync.fieldmerge import read
from mapsync.engine.sync.values import is_empty

Record = dict[str, Any]


@dataclass(frozen=True)
class Item:
    """One thing to exercise, with where it is written."""

    mapping: str
    what: str  # "rule name", "crm condition never false", "rule customer-type: map"
    location: Location
    entry: str | None = None  # a value-map entry's key, shown with repr


@dataclass
class MappingCoverage:
    name: str
    tests: int = 0
    rules: dict[str, Item] = field(default_factory=dict)
    conditions: dict[str, Item] = field(default_factory=dict)
    entries: dict[str, Item] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


def _group_items(mapping: str, prefix: str, group: RuleGroup, cov: MappingCoverage) -> None:
    for br in group.rules:
        rule = br.rule
        cov.rules[f"{prefix}rule:{rule.key}"] = Item(mapping, f"{prefix}rule {rule.key}", rule.location)
        if rule.value_map is not None and "map" in rule.locations:
            for key in rule.value_map:
                cov.entries[f"{prefix}map:{rule.key}:{key!r}"] = Item(
                    mapping, f"{prefix}rule {rule.key}: map", rule.where("map"), repr(key))
        if rule.reverse_map is not None and "map_reverse" in rule.locations and br.writes[Side.CRM]:
            for key in rule.reverse_map:
                cov.entries[f"{prefix}map_reverse:{rule.key}:{key!r}"] = Item(
                    mapping, f"{prefix}rule {rule.key}: map_reverse", rule.where("map_reverse"), repr(key))


class Coverage:
    """Accumulates what the tests exercised, per mapping of the rule set."""

    def __init__(self, bound: Iterable[BoundMapping], settings: dict[str, Any]) -> None:
        self.settings = settings
        self.mappings: dict[str, MappingCoverage] = {}
        for bm in bound:
            cov = MappingCoverage(bm.name)
            mapping = bm.mapping
            for kind, conditions in (("condition", mapping.conditions), ("create condition",
                                                                           mapping.create_conditions)):
                for side in conditions:
                    key = f"{kind.replace(' ', '_')}s.{side.value}"
                    for outcome in (True, False):
                        cov.conditions[f"{key}:{outcome}"] = Item(
                            bm.name, f"{side.value} {kind} never {'true' if outcome else 'false'}",
                            mapping.where(key))
            _group_items(bm.name, "", bm, cov)
            for lines in bm.lines:
                _group_items(bm.name, f"{lines.line.name}: ", lines, cov)
            self.mappings[bm.name] = cov

    def _conditions(self, bm: BoundMapping, side: Side, record: Record, cov: MappingCoverage) -> None:
        for kind, conditions in (("conditions", bm.mapping.conditions),
                                 ("create_conditions", bm.mapping.create_conditions)):
            condition = conditions.get(side)
            if condition is None:
                continue
            try:
                outcome = bool(condition.evaluate({"record": as_record(record), "settings": self.settings}))
            except ExpressionError:
                continue
            cov.seen.add(f"{kind}.{side.value}:{outcome}")

    def _rules(self, prefix: str, group: RuleGroup, side: Side, record: Record, cov: MappingCoverage) -> None:
        target = side.other
        for br in group.rules:
            if not br.writes[target]:
                continue
            rule = br.rule
            if rule.constant is not MISSING:
                cov.seen.add(f"{prefix}rule:{rule.key}")
                continue
            value = read(br, side, record)
            if is_empty(value):
                if rule.default is not MISSING:  # the default stands in for the empty value
                    cov.seen.add(f"{prefix}rule:{rule.key}")
                continue
            cov.seen.add(f"{prefix}rule:{rule.key}")
            self._entry(prefix, br, side, value, cov)

    @staticmethod
    def _entry(prefix: str, br: BoundRule, side: Side, value: Any, cov: MappingCoverage) -> None:
        rule = br.rule
        vmap = rule.value_map_to(side.other)
        if vmap is None:
            return
        key = value if value in vmap else (str(value) if str(value) in vmap else MISSING)
        if key is MISSING:
            return
        if side is Side.CRM:
            cov.seen.add(f"{prefix}map:{rule.key}:{key!r}")
        elif "map_reverse" in rule.locations:
            cov.seen.add(f"{prefix}map_reverse:{rule.key}:{key!r}")
        else:  # the map read backwards: the entry whose value this is
            cov.seen.add(f"{prefix}map:{rule.key}:{vmap[key]!r}")

    def observe(self, bm: BoundMapping, records: dict[Side, Record], lines: dict[Side, list[tuple[str, Record]]],
                *, skipped: bool) -> None:
        """One test's records (``lines``: per side, (line rule name, line record)); ``skipped``: the pass did not
        get beyond the conditions, so no field rule ran."""
        cov = self.mappings[bm.name]
        cov.tests += 1
        for side, record in records.items():
            self._conditions(bm, side, record, cov)
            if not skipped:
                self._rules("", bm, side, record, cov)
        if skipped:
            return
        by_name = {lines_rule.line.name: lines_rule for lines_rule in bm.lines}
        for side, items in lines.items():
            for name, record in items:
                self._rules(f"{name}: ", by_name[name], side, record, cov)

    # -- the report ------------------------------------------------------------------------------------
    def totals(self) -> dict[str, tuple[int, int]]:
        out = {}
        for kind in ("rules", "conditions", "entries"):
            total = sum(len(getattr(c, kind)) for c in self.mappings.values())
            hit = sum(1 for c in self.mappings.values() for k in getattr(c, kind) if k in c.seen)
            out[kind] = (hit, total)
        return out

    def missed(self) -> list[Item]:
        """Every item no test exercised, in rule set order (mappings without a test: see ``untested``)."""
        out: list[Item] = []
        for cov in self.mappings.values():
            if not cov.tests:
                continue
            for kind in (cov.conditions, cov.rules, cov.entries):
                out.extend(item for key, item in kind.items() if key not in cov.seen)
        return out

    def untested(self) -> list[MappingCoverage]:
        return [c for c in self.mappings.values() if not c.tests]

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals()
        return {
            "totals": {k: {"exercised": hit, "total": total} for k, (hit, total) in totals.items()},
            "untested_mappings": [c.name for c in self.untested()],
            "missed": [{"mapping": i.mapping, "what": i.what, "entry": i.entry, "file": shown_file(i.location.file),
                        "line": i.location.line} for i in self.missed()],
        }

    def render_text(self) -> str:
        totals = self.totals()
        names = {"rules": "field rules", "conditions": "condition outcomes", "entries": "value-map entries"}
        parts = []
        for kind, (hit, total) in totals.items():
            share = f" ({hit * 100 // total}%)" if total else ""
            parts.append(f"{names[kind]} {hit}/{total}{share}")
        lines = ["coverage: " + ", ".join(parts)]
        for cov in self.untested():
            lines.append(f"  mapping {cov.name}: no test ({len(cov.rules)} field rules, "
                         f"{len(cov.conditions)} condition outcomes, {len(cov.entries)} value-map entries)")
        missed = self.missed()
        if missed:
            lines.append("  not exercised:")
            grouped: dict[tuple[str, str, Location], list[str]] = {}
            for item in missed:
                grouped.setdefault((item.mapping, item.what, item.location), []).append(item.entry or "")
            for (mapping, what, location), entries in grouped.items():
                keys = [e for e in entries if e]
                shown = f" entries {', '.join(keys)}" if keys else ""
                lines.append(f"    {shown_file(location.file)}:{location.line}: {mapping}: {what}{shown}")
        return "\n".join(lines) + "\n"
