"""What a pass did or would do: actions per record and counts per mapping (plan and run share it).

The JSON shape is part of the interface contract (README.md "Commands", docs/sync.md): an object with ``mappings``,
each with ``name``, the counts ``created``, ``updated``, ``unchanged``, ``skipped``, ``conflicts``,
``quarantined``, and ``actions`` (``action``, ``target``, ids, ``changes`` as
``{field: {"old": .., "new": ..}}``, ``reason``).

A mapping's actions are kept in an ``ActionLog``: the first ``IN_MEMORY`` in memory, the rest in a private
temporary SQLite database on disk, so a pass over 100,000 records does not hold 100,000 actions in memory
(docs/decisions/0016-streaming-pass.md). The text report reads them back one at a time.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

COUNTED = ("created", "updated", "unchanged", "skipped", "conflicts", "quarantined", "held")
_COUNTER = {"create": "created", "update": "updated", "link": "updated", "unchanged": "unchanged",
            "skip": "skipped", "conflict": "conflicts", "quarantine": "quarantined"}


@dataclass
class Action:
    action: str  # create | update | link | unchanged | skip | conflict | quarantine
    target: str | None
    crm_id: str | None
    erp_id: str | None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = ""
    held: dict[str, str] = field(default_factory=dict)  # rule -> why its value was not brought over

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "crm_id": self.crm_id, "erp_id": self.erp_id,
                "changes": self.changes, "reason": self.reason, "held": self.held}


IN_MEMORY = 1000  # actions of a mapping kept in memory; the rest go to disk


class ActionLog(Sequence[Action]):
    """A mapping's actions in order: a list up to ``IN_MEMORY``, then a temporary SQLite table."""

    def __init__(self) -> None:
        self._head: list[Action] = []
        self._tail: sqlite3.Connection | None = None
        self._count = 0

    def append(self, action: Action) -> None:
        if self._count < IN_MEMORY:
            self._head.append(action)
        else:
            if self._tail is None:
                self._tail = sqlite3.connect("", isolation_level=None, check_same_thread=False)
                self._tail.execute("PRAGMA journal_mode = OFF")
                self._tail.execute("CREATE TABLE actions (n INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            self._tail.execute("INSERT INTO actions (n, body) VALUES (?, ?)",
                               (self._count, pickle.dumps(action, pickle.HIGHEST_PROTOCOL)))
        self._count += 1

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Action: ...

    @overload
    def __getitem__(self, index: slice) -> list[Action]: ...

    def __getitem__(self, index: int | slice) -> Action | list[Action]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("action index out of range")
        if index < len(self._head):
            return self._head[index]
        assert self._tail is not None
        row = self._tail.execute("SELECT body FROM actions WHERE n = ?", (index,)).fetchone()
        return pickle.loads(row[0])  # written by this object, in this process

    def __iter__(self) -> Iterator[Action]:
        yield from self._head
        if self._tail is None:
            return
        after = len(self._head) - 1
        while True:
            rows = self._tail.execute("SELECT n, body FROM actions WHERE n > ? ORDER BY n LIMIT 256",
                                      (after,)).fetchall()
            if not rows:
                return
            for n, body in rows:
                after = n
                yield pickle.loads(body)  # written by this object, in this process

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(
            a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ActionLog({self._count} actions)"


@dataclass
class MappingReport:
    name: str
    actions: ActionLog = field(default_factory=ActionLog)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    requests: int = 0
    warnings: list[str] = field(default_factory=list)  # guardrails a plan (or a forced run) went beyond
    failed: str | None = None  # the mapping could not be read (a system down, a rate limit outlasting the retries)

    def add(self, action: Action) -> None:
        self.counts[_COUNTER[action.action]] += 1
        if action.held:
            self.counts["held"] += 1
        if action.action != "unchanged" or action.held:
            self.actions.append(action)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.counts, "warnings": self.warnings, "failed": self.failed,
                "actions": [a.as_dict() for a in self.actions]}


@dataclass
class PassReport:
    ruleset: str
    applied: bool
    mappings: list[MappingReport] = field(default_factory=list)
    fatal: str | None = None
    run_id: int | None = None
    seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)  # per system (connector): API requests sent
    rate_limited: dict[str, int] = field(default_factory=dict)  # per system: of those, answered 429

    @property
    def failed_mappings(self) -> list[str]:
        """Mappings that could not be read this pass (the others ran)."""
        return [m.name for m in self.mappings if m.failed]

    def total(self, counter: str) -> int:
        return sum(m.counts[counter] for m in self.mappings)

    def totals(self) -> dict[str, int]:
        """The counts over every mapping (``as_dict()["totals"]`` without listing the actions)."""
        return {c: self.total(c) for c in COUNTED}

    @property
    def writes(self) -> int:
        return self.total("created") + self.total("updated")

    def as_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "mode": "run" if self.applied else "plan",
            "run_id": self.run_id,
            "fatal": self.fatal,
            "seconds": round(self.seconds, 3),
            "totals": self.totals(),
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "mappings": [m.as_dict() for m in self.mappings],
        }


def render_text(report: PassReport, *, max_actions: int = 20) -> str:
    """A readable summary: counts per mapping and the first actions with every field change and held field
    (what is left out is counted: "... and N more")."""
    verb = "Ran" if report.applied else "Plan for"
    lines = [f"{verb} rule set {report.ruleset}" + (f" (run {report.run_id})" if report.run_id else "")]
    if report.fatal:
        lines.append(f"FATAL: {report.fatal}")
    for m in report.mappings:
        counts = ", ".join(f"{m.counts[c]} {c}" for c in COUNTED)
        lines.append(f"  {m.name}: {counts}")
        lines.extend(f"    GUARDRAIL: {warning}" for warning in m.warnings)
        if m.failed:
            lines.append(f"    NOT SYNCED this pass (its cursors stay; the next pass reads it again): {m.failed}")
        shown = 0
        skips: dict[str, list[str]] = {}  # reason -> the first five records skipped for it
        skipped: dict[str, int] = {}
        for action in m.actions:  # one at a time: a mapping's actions may be many (an ActionLog on disk)
            if action.action == "skip":
                refs = skips.setdefault(action.reason, [])
                skipped[action.reason] = skipped.get(action.reason, 0) + 1
                if len(refs) < 5:
                    refs.append(f"crm {action.crm_id}" if action.crm_id else f"erp {action.erp_id}")
                continue
            shown += 1
            if shown > max_actions:
                continue
            ids = f"crm {action.crm_id or '-'} / erp {action.erp_id or '-'}"
            target = f" {action.target}" if action.target else ""
            lines.append(f"    {action.action}{target} [{ids}]" + (f": {action.reason}" if action.reason else ""))
            for name, change in action.changes.items():
                lines.append(f"        {name}: {change['old']!r} -> {change['new']!r}")
            for rule, why in action.held.items():
                lines.append(f"        held {rule}: {why}")
        if shown > max_actions:
            lines.append(f"    ... and {shown - max_actions} more")
        for reason, refs in skips.items():
            count = skipped[reason]
            more = f" +{count - 5}" if count > 5 else ""
            lines.append(f"    skip x{count} [{', '.join(refs)}{more}]: {reason}")
    totals = ", ".join(f"{report.total(c)} {c}" for c in COUNTED)
    lines.append(f"Total: {totals} in {report.seconds:.1f} s")
    return "\n".join(lines) + "\n"
