"""Mass-change guardrails: a mapping's decided plans checked against the rule set's limits before any write.

Pure: the plans of one mapping (counted one at a time by ``GuardrailCount``, so they need not be held) and its
number of links in, a message (with an excerpt of the plan) out
when the pass would update more than ``max_update_share`` of the linked records (once more than
``min_updates_for_share`` records would be updated), or blank one field in more than ``max_blanked``
records. ``mapsync run`` then stops before writing that mapping unless given ``--force``; ``mapsync
plan`` shows the message and goes on (docs/sync.md, "Guardrails").
"""

from __future__ import annotations

from collections.abc import Sequence

from mapsync.engine.ruleset import Guardrails
from mapsync.engine.sync.decide import RecordPlan
from mapsync.engine.sync.values import is_empty

EXCERPT = 5


def _ref(plan: RecordPlan) -> str:
    return " / ".join(f"{side.value} {rid}" for side, rid in sorted(plan.ids.items()))


class GuardrailCount:
    """The counts the guardrails need, taken one plan at a time as a mapping is decided (the plans themselves
    are not held: a pass spills them to disk, ``mapsync.engine.sync.spill``): how many plans update a linked
    record, how many blank each field, and the first ``EXCERPT`` records of each for the message."""

    def __init__(self) -> None:
        self.updates = 0
        self.updated: list[str] = []  # the first few: "crm 1 / erp 2: field, field"
        self.blanked: dict[tuple[str, str], int] = {}
        self.blanked_refs: dict[tuple[str, str], list[str]] = {}

    def add(self, plan: RecordPlan) -> None:
        if plan.kind == "update" and plan.targets:
            self.updates += 1
            if len(self.updated) < EXCERPT:
                self.updated.append(f"{_ref(plan)}: {', '.join(c.field for c in plan.changes) or 'lines'}")
        if plan.kind == "create":
            return
        for change in plan.changes:
            key = (change.target.value, change.field)
            if not (is_empty(change.new) and not is_empty(change.old)):
                continue
            self.blanked[key] = self.blanked.get(key, 0) + 1
            refs = self.blanked_refs.setdefault(key, [])
            if len(refs) < EXCERPT:
                refs.append(_ref(plan))

    def verdict(self, limits: Guardrails, mapping: str, linked: int) -> str | None:
        """Why the plans counted go beyond the limits, or None."""
        problems: list[str] = []
        updates = self.updates
        if linked and updates > limits.min_updates_for_share and updates > limits.max_update_share * linked:
            more = f" and {updates - EXCERPT} more" if updates > EXCERPT else ""
            problems.append(f"would update {updates} of {linked} linked records "
                            f"(more than max_update_share {limits.max_update_share:g}): "
                            f"{'; '.join(self.updated)}{more}")
        for (side, field), hits in sorted(self.blanked.items()):
            if hits > limits.max_blanked:
                more = f" and {hits - EXCERPT} more" if hits > EXCERPT else ""
                problems.append(f"would blank {side} {field} in {hits} records (more than max_blanked "
                                f"{limits.max_blanked}): {', '.join(self.blanked_refs[(side, field)])}{more}")
        if not problems:
            return None
        return (f"guardrail: mapping {mapping} " + "; ".join(problems)
                + ". Nothing was written to this mapping; check the plan, then run with --force or raise "
                  "`guardrails` in ruleset.yaml")


def check_guardrails(limits: Guardrails, mapping: str, linked: int, plans: Sequence[RecordPlan]) -> str | None:
    """Why this mapping's plans go beyond the limits, or None."""
    count = GuardrailCount()
    for plan in plans:
        count.add(plan)
    return count.verdict(limits, mapping, linked)
