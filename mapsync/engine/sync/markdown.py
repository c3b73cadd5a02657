"""A pass report as Markdown for a pull-request comment (``mapsync plan --format markdown``).

A summary table (one row per mapping with its counts), guardrail warnings, then per mapping the records
with their field changes and held fields, each record folded in a ``<details>`` block so a long plan
stays readable. Skips are grouped by reason. A comment has a size limit (GitHub: 65,536 characters),
so records beyond ``max_records`` per mapping are counted, never dropped silently.
"""

from __future__ import annotations

from typing import Any

from mapsync.engine.sync.report import COUNTED, Action, PassReport


def _cell(value: Any) -> str:
    text = "" if value is None else (value if isinstance(value, str) else repr(value))
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    if not text:
        return "*(empty)*"
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _record(action: Action) -> list[str]:
    ids = f"crm {action.crm_id or '-'} / erp {action.erp_id or '-'}"
    target = f" → {action.target}" if action.target else ""
    summary = f"<b>{action.action}</b>{target} ({ids})"
    if action.changes:
        summary += f": {len(action.changes)} field(s)"
    if action.held:
        summary += f", {len(action.held)} held"
    lines = ["<details>", f"<summary>{summary}</summary>", ""]
    if action.reason:
        lines += [action.reason.replace("\n", " "), ""]
    if action.changes:
        lines += ["| field | old | new |", "|---|---|---|"]
        lines += [f"| {_cell(name)} | {_cell(c['old'])} | {_cell(c['new'])} |" for name, c in action.changes.items()]
        lines.append("")
    if action.held:
        lines += ["| held back | why |", "|---|---|"]
        lines += [f"| {_cell(rule)} | {why.replace('|', '/')} |" for rule, why in action.held.items()]
        lines.append("")
    lines += ["</details>", ""]
    return lines


def render_markdown(report: PassReport, *, max_records: int = 50) -> str:
    """The report as GitHub-flavoured Markdown."""
    title = "Plan" if not report.applied else f"Run {report.run_id or ''}".rstrip()
    out = [f"### mapsync {title.lower() if title == 'Plan' else title}: rule set `{report.ruleset}`", ""]
    if report.fatal:
        out += [f"> **Stopped:** {report.fatal}", ""]
    out += ["| mapping | " + " | ".join(COUNTED) + " |", "|---|" + "---:|" * len(COUNTED)]
    for m in report.mappings:
        out.append(f"| {m.name} | " + " | ".join(str(m.counts[c]) for c in COUNTED) + " |")
    out.append("| **total** | " + " | ".join(f"**{report.total(c)}**" for c in COUNTED) + " |")
    out.append("")
    for m in report.mappings:
        records: list[Action] = []  # the first max_records (a mapping's actions may be many, on disk)
        others = 0
        skips: dict[str, int] = {}
        for action in m.actions:
            if action.action == "skip":
                skips[action.reason] = skips.get(action.reason, 0) + 1
            elif len(records) < max_records:
                records.append(action)
            else:
                others += 1
        if not records and not skips and not m.warnings:
            continue
        out += [f"#### {m.name}", ""]
        out += [f"> **Guardrail:** {warning}" for warning in m.warnings]
        if m.warnings:
            out.append("")
        for action in records:
            out += _record(action)
        if others:
            out += [f"*... and {others} more record(s); `mapsync plan --format json` lists all.*", ""]
        for reason, count in skips.items():
            out.append(f"- skipped: {count} record(s), {reason}")
        if skips:
            out.append("")
    return "\n".join(out).rstrip() + "\n"
