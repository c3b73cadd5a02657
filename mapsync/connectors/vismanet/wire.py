"""Between the read shape the engine sees and the value-wrapped write shape Visma.net takes.

Reads: list items lose their ``metadata`` (paging data); nothing else changes.

Writes take read-shape values, nested (``{"mainAddress": {"country": {"id": "SE"}}}``) or dotted
(``{"mainAddress.country.id": "SE"}``, also inside line rows), and produce the *UpdateDto body:

- every leaf path is renamed to its write path (``entities``), read-only fields are dropped;
- every field is wrapped ``{"value": ...}``; a nested update DTO (an address) is wrapped as a whole
  and its members too: ``{"mainAddress": {"value": {"countryId": {"value": "SE"}}}}``; plain fields
  (``overrideWithClassValues``) are not;
- **blanking** (a choice; the wrappers exist so that "absent" and "clear" differ): on a create, ``None``
  and ``""`` are left out (the server default applies); on an update, ``None`` is sent as
  ``{"value": null}`` (clear the field) and ``""`` as ``{"value": ""}``;
- lines: see ``line_operations``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mapsync.connectors.base import ConflictError, Record, RejectedError
from mapsync.connectors.vismanet.entities import LinesShape, VismanetEntity, read_only_fields


class _Missing:
    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "MISSING"


MISSING: Any = _Missing()


def strip_metadata(item: Mapping[str, Any]) -> Record:
    """A list item without its ``metadata`` (the read shape of a record)."""
    return {k: v for k, v in item.items() if k != "metadata"}


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys turned into nested dicts (``{"a.b": 1}`` -> ``{"a": {"b": 1}}``), merged with nested ones."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        parts = str(key).split(".")
        target = out
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        leaf = parts[-1]
        if isinstance(value, Mapping):
            existing = target.get(leaf)
            merged: dict[str, Any] = existing if isinstance(existing, dict) else {}
            merged.update(nest(value))
            target[leaf] = merged
        else:
            target[leaf] = value
    return out


def leaves(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, value)`` of every non-object value (lists are leaves; empty objects vanish)."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(leaves(value, path + "."))
        else:
            out.append((path, value))
    return out


def dig(record: Any, path: str) -> Any:
    """The value at a dotted path, ``MISSING`` when absent."""
    for part in path.split("."):
        if not isinstance(record, Mapping) or part not in record:
            return MISSING
        record = record[part]
    return record


def same(a: Any, b: Any) -> bool:
    """Equal as the API means it: ``3`` and ``3.0`` and ``"3"`` alike, strings stripped."""
    if a is MISSING or b is MISSING:
        return a is b
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, str) or isinstance(b, str):
        return str(a).strip() == str(b).strip()
    return bool(a == b)


def _rename(path: str, renames: Mapping[str, str]) -> str:
    best = ""
    for read in renames:
        if (path == read or path.startswith(read + ".")) and len(read) > len(best):
            best = read
    return renames[best] + path[len(best) :] if best else path


def _is_read_only(path: str, read_only: Iterable[str]) -> bool:
    parts = path.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    return not prefixes.isdisjoint(read_only)


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = {}
            tree[part] = child
        tree = child
    tree[parts[-1]] = value


def wrap(tree: Mapping[str, Any], plain: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every value as ``{"value": ...}``; nested objects wrapped as a whole and member by member."""
    return {
        key: value if key in plain else {"value": wrap(value) if isinstance(value, Mapping) else value}
        for key, value in tree.items()
    }


def write_fields(
    values: Mapping[str, Any],
    *,
    renames: Mapping[str, str],
    read_only: frozenset[str],
    plain: frozenset[str] = frozenset(),
    creating: bool,
) -> dict[str, Any]:
    """The wrapped write-shape body of read-shape ``values`` (see the module docstring)."""
    tree: dict[str, Any] = {}
    for path, value in leaves(nest(values)):
        if _is_read_only(path, read_only):
            continue
        if creating and (value is None or value == ""):
            continue
        _set(tree, _rename(path, renames), value)
    return wrap(tree, plain)


def _line_id(row: Mapping[str, Any], id_field: str) -> Any:
    value = row.get(id_field)
    return None if value in (None, "") else value


def line_operations(
    shape: LinesShape, current: list[Record], desired: Iterable[Mapping[str, Any]], *, creating: bool
) -> list[dict[str, Any]]:
    """Line operations turning the ``current`` rows into the ``desired`` list.

    A desired row with the line id is kept (``Update`` with the fields that differ, nothing when none
    does); a row without it is new (``Insert``); a current row left out is removed (``Delete``). A row
    naming a line that does not exist (any more) raises ``ConflictError``. On a create every row is an
    Insert and line ids are ignored.
    """
    read_only = read_only_fields(shape.entity) - {shape.id_field}
    by_id = {str(row.get(shape.id_field)): row for row in current}
    kept: set[str] = set()
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for raw in desired:
        row = nest(raw)
        line_id = _line_id(row, shape.id_field)
        fields = {k: v for k, v in row.items() if k != shape.id_field}
        if creating or line_id is None:
            body = write_fields(fields, renames=shape.renames, read_only=read_only, creating=True)
            inserts.append({"operation": "Insert", **body})
            continue
        key = str(line_id)
        old = by_id.get(key)
        if old is None:
            raise ConflictError(f"vismanet: line {shape.id_field}={line_id} does not exist (any more)", status=None)
        kept.add(key)
        changed = {p: v for p, v in leaves(fields) if not same(dig(old, p), v)}
        body = write_fields(changed, renames=shape.renames, read_only=read_only, creating=False)
        if body:
            updates.append({"operation": "Update", shape.id_field: {"value": old[shape.id_field]}, **body})
    deletes = [
        {"operation": "Delete", shape.id_field: {"value": row[shape.id_field]}}
        for key, row in by_id.items()
        if key not in kept and not creating
    ]
    return deletes + updates + inserts


def write_body(spec: VismanetEntity, values: Mapping[str, Any], current: Record | None) -> dict[str, Any]:
    """The POST (``current`` None) or PUT body for ``values`` (read shape) of ``spec``."""
    creating = current is None
    nested = nest(values)
    lines = spec.lines
    header = {k: v for k, v in nested.items() if lines is None or k != lines.field}
    body = write_fields(
        header, renames=spec.renames, read_only=read_only_fields(spec.name), plain=spec.plain, creating=creating
    )
    if lines is not None and lines.field in nested:
        rows = nested[lines.field]
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            raise RejectedError(f"vismanet: {spec.name}.{lines.field} must be a list of lines")
        existing = [] if current is None else [r for r in current.get(lines.field) or [] if isinstance(r, dict)]
        ops = line_operations(lines, existing, rows, creating=creating)
        if ops or creating:
            body[lines.field] = ops
    return body


def has_inserts(body: Mapping[str, Any], spec: VismanetEntity) -> bool:
    """Whether a body inserts lines (a replay would insert them twice)."""
    if spec.lines is None:
        return False
    rows = body.get(spec.lines.field) or []
    return any(isinstance(r, dict) and r.get("operation") == "Insert" for r in rows)
