"""The field merge of one rule group, generated: one Python function per bound mapping (or line rule).

``merger_of(bound)`` returns (and keeps on ``bound``) a function that does what ``fieldmerge.merge_loop`` does:
per rule, read the two values (a plain text field inline, with one ``dict.get``; any other through the rule's
compiled reader), compare them with the base (``changed_since``, inline) and call ``fieldmerge.merge_rule``
only when the rule has something to decide: a constant, no base yet, a side changed, a field held for review.
A linked pair where nothing changed costs no call per field. A rule of two texts first compares the two
values as the records hold them with the base, which holds normalised values (``fieldmerge.base_of``): both
equal, the rule is unchanged without normalising either.

The source holds no text of the rule files: rule keys, field names, rules and helpers are globals of the
function's own namespace (``K3``, ``N3``, ``R3``, ...), so nothing a rule file says can become code.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from mapsync.engine.extractors import MISSING
from mapsync.engine.sync.bound import RuleGroup
from mapsync.engine.sync.fieldmerge import merge_rule
from mapsync.engine.sync.values import is_empty

Merger = Callable[..., None]
"""(bound, crm, erp, base, held, newer, ctx, result) -> None: the changes, conflicts and held fields in result."""


_MERGERS: dict[int, Merger] = {}
"""The generated merge of each live rule group, by ``id``; an entry goes with its group (``weakref.finalize``).
Not an attribute of the group: a group stays picklable and comparable."""


def merger_of(bound: RuleGroup) -> Merger:
    """The generated merge of ``bound``, made on first use and kept while ``bound`` lives."""
    key = id(bound)
    merger = _MERGERS.get(key)
    if merger is None:
        merger = generate(bound)
        try:
            weakref.finalize(bound, _MERGERS.pop, key, None)
        except TypeError:  # a group that cannot be referenced weakly: made again next time
            return merger
        _MERGERS[key] = merger
    return merger


def _read_lines(i: int, side: str, text_field: str | None) -> list[str]:
    """Source reading rule ``i``'s value of ``side`` (``c`` for crm, ``e`` for erp) into that variable."""
    record = "crm" if side == "c" else "erp"
    reader = f"{side.upper()}{i}"
    if text_field is None:
        return [f"    {side} = {reader}({record})"]
    return [f"    {side} = {record}.get({side.upper()}N{i}, MISSING)", *_normalise_lines(i, side, record)]


def _normalise_lines(i: int, side: str, record: str) -> list[str]:
    """Source normalising the text just read into ``side`` as the rule's reader does."""
    return [f"    if {side}.__class__ is str:",
            f"        if not {side} or {side}.isspace():",
            f"            {side} = None",
            f"    elif {side} is not MISSING:",
            f"        {side} = {side.upper()}{i}({record})"]


def generate(bound: RuleGroup) -> Merger:
    namespace: dict[str, Any] = {"__builtins__": {"str": str}, "MISSING": MISSING, "EMPTY": is_empty,
                                 "RULE": merge_rule, "NOBASE": {}}
    lines = ["def merger(bound, crm, erp, base, held, newer, ctx, result):",
             "    found = NOBASE if base is None else base"]
    for i, br in enumerate(bound.rules):
        text = br.text_fields
        namespace.update({f"B{i}": br, f"K{i}": br.rule.key, f"C{i}": br.read_crm, f"E{i}": br.read_erp})
        if text is not None:
            namespace.update({f"CN{i}": text[0], f"EN{i}": text[1]})
        call = f"RULE(bound, B{i}, c, e, base, ctx, result, held, newer)"
        if br.rule.constant is not MISSING:
            lines += _read_lines(i, "c", text[0] if text else None)
            lines += _read_lines(i, "e", text[1] if text else None)
            lines.append(f"    {call}")
            continue
        # changed_since, inline: a side changed when its value is not the base's (MISSING equals only itself),
        # is there (not MISSING) and, where the base has none, is not empty. The usual, equal, tests once.
        decide = [f"    a = found.get(K{i})",
                  "    if a is None:",
                  f"        {call}",
                  "    else:",
                  "        ac = a.get('crm', MISSING)",
                  "        ae = a.get('erp', MISSING)",
                  "        if ((c != ac and c is not MISSING and (ac is not MISSING or not EMPTY(c)))",
                  "                or (e != ae and e is not MISSING and (ae is not MISSING or not EMPTY(e)))",
                  f"                or (held and K{i} in held)):",
                  f"            {call}"]
        if text is None:
            lines += [*_read_lines(i, "c", None), *_read_lines(i, "e", None), *decide]
            continue
        # Two texts: the values as the records hold them, when both equal the base's (which holds normalised
        # values), are unchanged without normalising them; anything else takes the general way.
        lines += [f"    c = crm.get(CN{i}, MISSING)",
                  f"    e = erp.get(EN{i}, MISSING)",
                  f"    a = found.get(K{i})",
                  "    if (a is None or c != a.get('crm', MISSING) or e != a.get('erp', MISSING)",
                  f"            or (held and K{i} in held)):",
                  *("    " + line for line in [*_normalise_lines(i, "c", "crm"), *_normalise_lines(i, "e", "erp"),
                                                *decide[1:]])]
    lines.append("    return None")
    exec(compile("\n".join(lines), "<mapsync merge>", "exec"), namespace)
    merger: Merger = namespace["merger"]
    return merger
