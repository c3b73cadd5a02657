"""Reading a rule's value from a record, compiled: the reader and the normaliser of its type looked up once.

``normaliser(type)`` is ``values.normalise`` for one catalogue type; ``compiled_reader(rule, side, type)`` is
``fieldmerge.read`` for one rule side. ``bound.bind_rules`` makes both readers of every rule when a mapping is
bound, so that the merge and the create plan read a plain field with one ``dict.get`` per record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset import FieldRule, Side
from mapsync.engine.sync.values import _BY_TYPE, _number

Record = dict[str, Any]


def normaliser(field_type: str | None) -> Callable[[Any], Any]:
    """``normalise(value, field_type)`` for one type, the type looked up once (MISSING is handled by callers)."""
    convert = _BY_TYPE.get(field_type or "")

    def empty(value: Any) -> bool:  # values.is_empty; ''.isspace() is False, so '' is tested first
        return value is None or value is MISSING or (isinstance(value, str) and (not value or value.isspace()))

    if convert is not None:
        return lambda value: None if empty(value) else convert(value)
    if field_type == "string":
        def string(value: Any) -> Any:
            if value.__class__ is str:
                return value if value and not value.isspace() else None
            if empty(value):
                return None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(_number(value))
            return value
        return string
    return lambda value: None if empty(value) else value


def compiled_reader(rule: FieldRule, side: Side, field_type: str | None) -> Callable[[Record | None], Any]:
    """``fieldmerge.read`` for one rule side: the value in a record, normalised; MISSING when the field (or the
    record) is absent. A plain field is one ``dict.get``."""
    fs = rule.side(side)
    if fs is None:
        return lambda record: MISSING
    norm = normaliser(field_type)
    reader = fs.reader
    if isinstance(reader, FieldPath) and len(reader.parts) == 1 and field_type in ("string", None):
        name = reader.name

        def text(record: Record | None) -> Any:  # the commonest: a text normalised inline, no call
            if record is None:
                return MISSING
            value = record.get(name, MISSING)
            if value.__class__ is str:
                return value if value and not value.isspace() else None
            return MISSING if value is MISSING else norm(value)
        return text
    if isinstance(reader, FieldPath) and len(reader.parts) == 1:
        name = reader.name

        def plain(record: Record | None) -> Any:
            if record is None:
                return MISSING
            value = record.get(name, MISSING)
            return MISSING if value is MISSING else norm(value)
        return plain
    get = reader.get

    def other(record: Record | None) -> Any:
        if record is None:
            return MISSING
        value = get(record)
        return MISSING if value is MISSING else norm(value)
    return other
