"""What a pass did or would do: actions per record and counts per mapping (plan and run share it).

The JSON shape is part of the interface contract (README.md "Commands", docs/sync.md): an object with ``mappings``,
each with ``name``, the counts ``created``, ``updated``, ``unchanged``, ``skipped``, ``conflicts``,
``quarantined``, and ``actions`` (``action``, ``target``, ids, ``changes`` as
``{field: {"old": .., "new": ..}}``, ``reason``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class MappingReport:
    name: str
    actions: list[Action] = field(default_factory=list)
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
            "totals": {c: self.total(c) for c in COUNTED},
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
        shown = [a for a in m.actions if a.action != "skip"]
        for action in shown[:max_actions]:
            ids = f"crm {action.crm_id or '-'} / erp {action.erp_id or '-'}"
            target = f" {action.target}" if action.target else ""
            lines.append(f"    {action.action}{target} [{ids}]" + (f": {action.reason}" if action.reason else ""))
            for name, change in action.changes.items():
                lines.append(f"        {name}: {change['old']!r} -> {change['new']!r}")
            for rule, why in action.held.items():
                lines.append(f"        held {rule}: {why}")
        if len(shown) > max_actions:
            lines.append(f"    ... and {len(shown) - max_actions} more")
        skips: dict[str, list[str]] = {}
        for action in m.actions:
            if action.action == "skip":
                ref = f"crm {action.crm_id}" if action.crm_id else f"erp {action.erp_id}"
                skips.setdefault(action.reason, []).append(ref)
        for reason, refs in skips.items():
            more = f" +{len(refs) - 5}" if len(refs) > 5 else ""
            lines.append(f"    skip x{len(refs)} [{', '.join(refs[:5])}{more}]: {reason}")
    totals = ", ".join(f"{report.total(c)} {c}" for c in COUNTED)
    lines.append(f"Total: {totals} in {report.seconds:.1f} s")
    return "\n".join(lines) + "\n"
