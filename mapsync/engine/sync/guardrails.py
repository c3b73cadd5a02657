"""Mass-change guardrails: a mapping's decided plans checked against the rule set's limits before any write.

Pure: the plans of one mapping and its number of links in, a message (with an excerpt of the plan) out
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


def check_guardrails(limits: Guardrails, mapping: str, linked: int, plans: Sequence[RecordPlan]) -> str | None:
    """Why this mapping's plans go beyond the limits, or None."""
    problems: list[str] = []
    updates = [p for p in plans if p.kind == "update" and p.targets]
    if linked and len(updates) > limits.min_updates_for_share and len(updates) > limits.max_update_share * linked:
        shown = "; ".join(f"{_ref(p)}: {', '.join(c.field for c in p.changes) or 'lines'}" for p in updates[:EXCERPT])
        more = f" and {len(updates) - EXCERPT} more" if len(updates) > EXCERPT else ""
        problems.append(f"would update {len(updates)} of {linked} linked records "
                        f"(more than max_update_share {limits.max_update_share:g}): {shown}{more}")
    blanked: dict[tuple[str, str], list[RecordPlan]] = {}
    for plan in plans:
        if plan.kind == "create":
            continue
        for change in plan.changes:
            if is_empty(change.new) and not is_empty(change.old):
                blanked.setdefault((change.target.value, change.field), []).append(plan)
    for (side, field), hits in sorted(blanked.items()):
        if len(hits) > limits.max_blanked:
            shown = ", ".join(_ref(p) for p in hits[:EXCERPT])
            more = f" and {len(hits) - EXCERPT} more" if len(hits) > EXCERPT else ""
            problems.append(f"would blank {side} {field} in {len(hits)} records (more than max_blanked "
                            f"{limits.max_blanked}): {shown}{more}")
    if not problems:
        return None
    return (f"guardrail: mapping {mapping} " + "; ".join(problems)
            + ". Nothing was written to this mapping; check the plan, then run with --force or raise `guardrails` "
              "in ruleset.yaml")
