"""Reading value-wrapped write bodies (``{"name": {"value": "x"}}``) onto read-shape DTOs.

``apply_body`` walks a request body with the entity's write spec (``schema.F``), checks each value
(wrapper present, type, reference ids) and stores it in the DTO under its read name. It returns the
unwrapped values by write name, so the backend knows what the request set, and leaves line arrays to
the backend (they carry ``operation``). Errors are raised as ``ApiError`` (400) naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from mapsync.connectors.vismanet.simulator.errors import ApiError, validation
from mapsync.connectors.vismanet.simulator.schema import TABLE_TITLES, F, address, contact_info

Record = dict[str, Any]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Resolver(Protocol):
    """Reference ids: tables and stored records (customers, items)."""

    def ref(self, table: str, key: str) -> Record | None:
        """The read-shape object for ``key``, or None when it does not exist."""
        ...

    def canonical(self, table: str, key: str) -> str | None:
        """The stored spelling of ``key`` (ids are case-insensitive), or None when unknown."""
        ...


class Body:
    """Context of one request body: where errors go and which shape they take."""

    def __init__(self, resolver: Resolver, *, document: bool, creating: bool) -> None:
        self.resolver = resolver
        self.document = document
        self.creating = creating

    def fail(self, message: str) -> ApiError:
        return validation(message, document=self.document, creating=self.creating)


def lookup(spec: Mapping[str, F], name: str) -> tuple[str, F] | None:
    """The spec entry for ``name`` (JSON property names bind case-insensitively)."""
    if name in spec:
        return name, spec[name]
    lower = name.lower()
    return next(((k, f) for k, f in spec.items() if k.lower() == lower), None)


def unwrap(body: Body, where: str, raw: Any) -> Any:
    """The inner value of ``{"value": x}``; 400 for anything else."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key.lower() == "value" and len(raw) == 1:
                return value
    raise body.fail(f"Field '{where}' must be a value wrapper {{\"value\": ...}}.")


def convert(body: Body, where: str, f: F, value: Any) -> Any:
    """A wrapped scalar checked and converted to what the DTO stores (None clears)."""
    if value is None:
        return None
    kind = f.kind
    bad = body.fail(f"Field '{where}' has an invalid value {value!r}.")
    if kind == "str":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad
        return value if isinstance(value, str) else str(value)
    if kind == "int":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise bad
    if kind == "num":
        if isinstance(value, bool):
            raise bad
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise bad
        return number
    if kind in ("bool", "plain"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad
    if kind == "date":
        if not isinstance(value, str):
            raise bad
        text = value.strip()
        try:
            if _DATE.match(text):
                return text + "T00:00:00"
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad from None
        return parsed.replace(tzinfo=None, microsecond=0).isoformat()
    if kind == "enum":
        if isinstance(value, str):
            for choice in f.choices:
                if choice.lower() == value.lower():
                    return choice
        raise body.fail(f"Field '{where}': '{value}' is not one of {', '.join(f.choices)}.")
    if kind == "uom":
        if not isinstance(value, str) or not 0 < len(value.strip()) <= 6:
            raise body.fail(f"Field '{where}': unit '{value}' cannot be found in the system.")
        return value.strip().upper()
    if kind == "county":
        if not isinstance(value, str):
            raise bad
        return {"id": value, "name": value}
    if kind in ("ref", "flatref"):
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise bad
        key = str(value).strip()
        assert f.table is not None
        title = TABLE_TITLES.get(f.table, f.table)
        found = body.resolver.canonical(f.table, key) if kind == "flatref" else body.resolver.ref(f.table, key)
        if found is None:
            raise body.fail(f"{title} '{key}' cannot be found in the system.")
        return found
    raise AssertionError(f"unknown field kind {kind}")  # pragma: no cover


def apply_body(
    record: Record, data: Any, spec: Mapping[str, F], body: Body, *, prefix: str = ""
) -> dict[str, Any]:
    """Store the wrapped values of ``data`` into ``record``; returns ``{write name: value}``.

    Line arrays (``F("lines")``) are returned as given (a list) and not stored.
    """
    if not isinstance(data, dict):
        raise body.fail(f"'{prefix or 'body'}' must be a JSON object.")
    given: dict[str, Any] = {}
    for name, raw in data.items():
        found = lookup(spec, name)
        where = f"{prefix}{name}"
        if found is None:
            raise body.fail(f"Unknown field '{where}'.")
        key, f = found
        if f.kind == "lines":
            if not isinstance(raw, list):
                raise body.fail(f"'{where}' must be an array of lines.")
            given[key] = raw
            continue
        if f.kind == "ignore":
            continue
        if f.kind == "plain":
            value = raw["value"] if isinstance(raw, dict) and "value" in raw else raw
            given[key] = convert(body, where, f, value)
            continue
        value = unwrap(body, where, raw)
        read = f.read or key
        if f.kind == "obj":
            if value is None:
                record[read] = address() if "addressLine1" in f.members else contact_info()
                given[key] = None
                continue
            target = record.get(read)
            if not isinstance(target, dict):
                target = address() if "addressLine1" in f.members else contact_info()
                record[read] = target
            given[key] = apply_body(target, value, f.members, body, prefix=where + ".")
            continue
        converted = convert(body, where, f, value)
        record[read] = converted
        given[key] = converted
    return given


def line_operation(body: Body, where: str, line: Any) -> str:
    """The plain ``operation`` of a line (Insert when absent - a choice)."""
    if not isinstance(line, dict):
        raise body.fail(f"'{where}' must be a JSON object.")
    op = next((v for k, v in line.items() if k.lower() == "operation"), "Insert")
    if isinstance(op, dict):
        raise body.fail(f"'{where}.operation' is a plain string (Insert, Update or Delete), not a value wrapper.")
    for choice in ("Insert", "Update", "Delete"):
        if isinstance(op, str) and op.lower() == choice.lower():
            return choice
    raise body.fail(f"'{where}.operation' must be Insert, Update or Delete.")


def line_fields(line: dict[str, Any]) -> dict[str, Any]:
    """A line without its plain ``operation``."""
    return {k: v for k, v in line.items() if k.lower() != "operation"}
