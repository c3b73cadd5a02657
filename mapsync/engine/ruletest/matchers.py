"""Expected values in rule tests: literal values and matchers for values that vary.

A matcher is a mapping with one ``$`` key (two for ``$approx`` with ``$tolerance``):

- ``{$any: true}``: any value, as long as the field is there (written, or sent);
- ``{$absent: true}``: the field is not there (not written, not sent);
- ``{$regex: PATTERN}``: a text matching the regular expression (``re.fullmatch``);
- ``{$contains: TEXT}``: a text containing TEXT (or a list containing the value);
- ``{$type: string|number|integer|boolean|list|object|null}``;
- ``{$one_of: [A, B]}``: equal to one of the values;
- ``{$approx: 12.5, $tolerance: 0.01}``: a number within the tolerance (default 1e-6).

Everything else is a literal. The plan's values are normalised per field type, as the engine compares them
(docs/sync.md), and a literal matches such a value when it is equal; numbers compare by value (``1`` and
``1.0``), and a number matches the same number written as text (``CustomerNumber: 101`` matches ``"101"``),
since YAML reads an unquoted number as a number. ``true`` never matches ``1``. A mapping literal matches a
mapping with at least its keys (each value matched in turn); a list literal matches a list of the same
length, item by item.

Expected values are compiled once, when the test file is read (``compile_expected``), so a bad matcher is a
located problem in the test file, not a failure at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mapsync.engine.extractors import MISSING

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,), "list": (list,),
    "object": (dict,), "null": (type(None),),
}
MATCHER_KEYS = ("$any", "$absent", "$regex", "$contains", "$type", "$one_of", "$approx")


class MatcherError(ValueError):
    """An expected value that is not a valid matcher (unknown ``$`` key, bad pattern)."""


@dataclass(frozen=True)
class Expected:
    """One compiled expected value: ``mismatch(actual)`` is None when it matches, else why not."""

    kind: str  # "literal", "any", "absent", "regex", ...
    value: Any = None
    tolerance: float = 1e-6
    pattern: re.Pattern[str] | None = None

    def describe(self) -> str:
        if self.kind == "literal":
            return _show(self.value)
        if self.kind in ("any", "absent"):
            return f"{{${self.kind}: true}}"
        if self.kind == "approx":
            return f"{{$approx: {self.value}, $tolerance: {self.tolerance}}}"
        return f"{{${self.kind}: {_show(self.value)}}}"

    @property
    def wants_absent(self) -> bool:
        return self.kind == "absent"

    def mismatch(self, actual: Any) -> str | None:
        """None when ``actual`` (MISSING: the field is not there) matches, else a short explanation."""
        if self.kind == "absent":
            return None if actual is MISSING else f"expected no value, got {_show(actual)}"
        if actual is MISSING:
            return f"expected {self.describe()}, but there is no such field"
        return _CHECKS[self.kind](self, actual)


def _show(value: Any) -> str:
    if value is MISSING:
        return "(nothing)"
    text = repr(value) if isinstance(value, str) else _plain(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _plain(value: Any) -> str:
    if isinstance(value, Expected):
        return value.describe()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, int | float) and isinstance(actual, str):
        return str(expected) == actual.strip()
    return bool(expected == actual)


def _literal(exp: Expected, actual: Any) -> str | None:
    value = exp.value
    if isinstance(value, dict):
        if not isinstance(actual, dict):
            return f"expected a mapping, got {_show(actual)}"
        for key, sub in value.items():
            why = sub.mismatch(actual.get(key, MISSING))
            if why:
                return f"{key}: {why}"
        return None
    if isinstance(value, list):
        if not isinstance(actual, list):
            return f"expected a list, got {_show(actual)}"
        if len(value) != len(actual):
            return f"expected {len(value)} item(s), got {len(actual)}: {_show(actual)}"
        for index, (sub, item) in enumerate(zip(value, actual, strict=True)):
            why = sub.mismatch(item)
            if why:
                return f"item {index + 1}: {why}"
        return None
    return None if _equal(value, actual) else f"expected {_show(value)}, got {_show(actual)}"


def _regex(exp: Expected, actual: Any) -> str | None:
    assert exp.pattern is not None
    if isinstance(actual, str) and exp.pattern.fullmatch(actual):
        return None
    return f"expected a text matching {exp.value!r}, got {_show(actual)}"


def _contains(exp: Expected, actual: Any) -> str | None:
    if isinstance(actual, str) and isinstance(exp.value, str) and exp.value in actual:
        return None
    if isinstance(actual, list) and any(_equal(exp.value, item) for item in actual):
        return None
    return f"expected something containing {_show(exp.value)}, got {_show(actual)}"


def _type(exp: Expected, actual: Any) -> str | None:
    wanted = _TYPES[exp.value]
    ok = isinstance(actual, wanted) and not (isinstance(actual, bool) and bool not in wanted)
    return None if ok else f"expected a value of type {exp.value}, got {_show(actual)}"


def _one_of(exp: Expected, actual: Any) -> str | None:
    if any(_equal(v, actual) for v in exp.value):
        return None
    return f"expected one of {_show(exp.value)}, got {_show(actual)}"


def _approx(exp: Expected, actual: Any) -> str | None:
    if isinstance(actual, int | float) and not isinstance(actual, bool) and abs(actual - exp.value) <= exp.tolerance:
        return None
    return f"expected {exp.value} within {exp.tolerance}, got {_show(actual)}"


_CHECKS = {
    "literal": _literal, "any": lambda exp, actual: None, "regex": _regex, "contains": _contains, "type": _type,
    "one_of": _one_of, "approx": _approx,
}


def _matcher(spec: dict[str, Any]) -> Expected:
    keys = set(spec)
    if keys == {"$approx", "$tolerance"} or keys == {"$approx"}:
        number, tolerance = spec["$approx"], spec.get("$tolerance", 1e-6)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (number, tolerance)):
            raise MatcherError("$approx and $tolerance take numbers")
        return Expected("approx", number, float(tolerance))
    if len(keys) != 1:
        raise MatcherError(f"a matcher has one $ key ({', '.join(MATCHER_KEYS)}); got {', '.join(sorted(keys))}")
    key, arg = next(iter(spec.items()))
    if key in ("$any", "$absent"):
        if arg is not True:
            raise MatcherError(f"write {{{key}: true}}")
        return Expected(key[1:])
    if key == "$regex":
        if not isinstance(arg, str):
            raise MatcherError("$regex takes a regular expression (a text)")
        try:
            return Expected("regex", arg, pattern=re.compile(arg))
        except re.error as exc:
            raise MatcherError(f"$regex: not a valid regular expression: {exc}") from exc
    if key == "$type":
        if arg not in _TYPES:
            raise MatcherError(f"$type takes one of {', '.join(_TYPES)}")
        return Expected("type", arg)
    if key == "$one_of":
        if not isinstance(arg, list) or not arg:
            raise MatcherError("$one_of takes a list of values")
        return Expected("one_of", arg)
    if key == "$contains":
        return Expected("contains", arg)
    raise MatcherError(f"unknown matcher {key!r}; matchers: {', '.join(MATCHER_KEYS)}")


def is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) and k.startswith("$") for k in value)


def compile_expected(value: Any) -> Expected:
    """An expected value (literal or matcher, nested) compiled once; ``MatcherError`` when it is not valid."""
    if is_matcher(value):
        return _matcher(value)
    if isinstance(value, dict):
        return Expected("literal", {k: compile_expected(v) for k, v in value.items()})
    if isinstance(value, list):
        return Expected("literal", [compile_expected(v) for v in value])
    return Expected("literal", value)
