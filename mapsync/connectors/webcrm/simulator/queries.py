"""``GET /Queries?script=...``: the subset of webCRM's SQL-like dialect the simulator understands.

    SELECT * FROM <Table> [WHERE <cond> [AND <cond>]...] [ORDER BY <Field> [ASC|DESC][, ...]]

with ``<cond>`` one of ``<Field> <op> <literal>`` (``=``, ``<>``, ``!=``, ``>=``, ``<=``, ``>``, ``<``),
``<Field> LIKE '<pattern>'`` or ``<Field> IS [NOT] NULL``; literals are ``'quoted'`` (``''`` escapes a
quote) or numbers. Tables (case-insensitive): Organisation, Person, Delivery, QuotationLine,
Opportunity, LinkedData. ``OR``, joins and sub-queries are refused with 400.

Choices (the real dialect is NOT CONFIRMED): comparisons on text are case-insensitive (SQL Server's
default collation); date-times compare as instants, a literal without offset being UTC (the
simulator keeps ``*UpdatedAt`` in UTC); ``NULL`` never compares true. The LinkedData table holds the
quotation-line catalogue with generic column names (``LinkedDataItemData1``...), an integer
``LinkedDataItemEntityType`` and a ``LinkedDataItemUpdatedAt`` column. Rows come in id order
unless ``ORDER BY`` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mapsync.connectors.webcrm.simulator.dtos import fields, format_timestamp, id_field, parse_timestamp

Record = dict[str, Any]

TABLES = {
    "organisation": "organisation",
    "person": "person",
    "delivery": "delivery",
    "quotationline": "quotation_line",
    "opportunity": "opportunity",
    "linkeddata": "catalogue_item",
}
CATALOGUE_PREFIX = "QuotationLineLinkedDataItem"
LINKED_PREFIX = "LinkedDataItem"

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>>=|<=|<>|!=|=|<|>)"
    r"|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[*(),;]))"
)


class QueryError(Exception):
    """The script cannot be run; answered with HTTP 400."""


@dataclass(frozen=True)
class Condition:
    column: str
    op: str  # = <> >= <= > < LIKE ISNULL NOTNULL
    literal: str | float | None


@dataclass(frozen=True)
class Query:
    entity: str
    conditions: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]  # (column, descending)


def _tokens(script: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = script.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"Incorrect syntax near '{text[pos : pos + 20]}'.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, script: str) -> None:
        self.tokens = _tokens(script)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def word(self) -> str | None:
        token = self.peek()
        return token[1].upper() if token and token[0] == "name" else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1].upper() != value):
            found = token[1] if token else "end of script"
            raise QueryError(f"Incorrect syntax near '{found}'.")
        self.pos += 1
        return token[1]

    def parse(self) -> Query:
        self.take("name", "SELECT")
        self.take("punct", "*")
        self.take("name", "FROM")
        table = self.take("name")
        entity = TABLES.get(table.lower())
        if entity is None:
            raise QueryError(f"Invalid object name '{table}'.")
        if self.word() == "JOIN" or self.word() == "INNER":
            raise QueryError("JOIN is not supported by the simulator.")
        conditions: list[Condition] = []
        if self.word() == "WHERE":
            self.pos += 1
            conditions.append(self.condition())
            while self.word() in ("AND", "OR"):
                if self.word() == "OR":
                    raise QueryError("OR is not supported by the simulator.")
                self.pos += 1
                conditions.append(self.condition())
        order: list[tuple[str, bool]] = []
        if self.word() == "ORDER":
            self.pos += 1
            self.take("name", "BY")
            while True:
                column = self.take("name")
                descending = False
                if self.word() in ("ASC", "DESC"):
                    descending = self.word() == "DESC"
                    self.pos += 1
                order.append((column, descending))
                token = self.peek()
                if token and token == ("punct", ","):
                    self.pos += 1
                    continue
                break
        token = self.peek()
        if token == ("punct", ";"):
            self.pos += 1
        extra = self.peek()
        if extra is not None:
            raise QueryError(f"Incorrect syntax near '{extra[1]}'.")
        return Query(entity, tuple(conditions), tuple(order))

    def condition(self) -> Condition:
        token = self.peek()
        if token == ("punct", "("):
            raise QueryError("Parentheses are not supported by the simulator.")
        column = self.take("name")
        if self.word() == "IS":
            self.pos += 1
            negate = self.word() == "NOT"
            if negate:
                self.pos += 1
            self.take("name", "NULL")
            return Condition(column, "NOTNULL" if negate else "ISNULL", None)
        if self.word() == "LIKE":
            self.pos += 1
            return Condition(column, "LIKE", self.literal())
        op = self.take("op")
        return Condition(column, "<>" if op == "!=" else op, self.literal())

    def literal(self) -> str | float:
        token = self.peek()
        if token is None:
            raise QueryError("Incorrect syntax near 'end of script'.")
        kind, value = token
        self.pos += 1
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value)
        raise QueryError(f"Incorrect syntax near '{value}'.")


def parse_query(script: str) -> Query:
    return _Parser(script).parse()


# ---------------------------------------------------------------------------- rows and columns
def linked_data_row(item: Record, entity_types: list[str], updated: datetime) -> Record:
    """A catalogue item as a row of the LinkedData table."""
    row: Record = {}
    for key, value in item.items():
        name = LINKED_PREFIX + key[len(CATALOGUE_PREFIX) :] if key.startswith(CATALOGUE_PREFIX) else key
        row[name] = value
    kind = row.get("LinkedDataItemEntityType")
    row["LinkedDataItemEntityType"] = entity_types.index(kind) if kind in entity_types else 0
    row["LinkedDataItemUpdatedAt"] = format_timestamp(updated)
    return row


def column_types(entity: str) -> dict[str, str]:
    types = {name: spec["type"] for name, spec in fields(entity).items()}
    if entity != "catalogue_item":
        return types
    renamed = {LINKED_PREFIX + k[len(CATALOGUE_PREFIX) :]: t for k, t in types.items()}
    renamed["LinkedDataItemEntityType"] = "integer"
    renamed["LinkedDataItemUpdatedAt"] = "date-time"
    return renamed


def _column(name: str, types: dict[str, str]) -> str:
    bare = name.split(".")[-1]
    for column in types:
        if column.lower() == bare.lower():
            return column
    raise QueryError(f"Invalid column name '{bare}'.")


def _like(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _comparable(kind: str, value: Any, column: str) -> Any:
    if kind == "date-time":
        try:
            return parse_timestamp(str(value))
        except ValueError:
            raise QueryError(f"Conversion failed when converting '{value}' to datetime ({column}).") from None
    if kind in ("integer", "number"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise QueryError(f"Conversion failed when converting '{value}' to a number ({column}).") from None
    if kind == "boolean":
        return str(value).lower() in ("1", "true", "1.0")
    return str(value).casefold()


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "<>": lambda a, b: bool(a != b),
    ">=": lambda a, b: bool(a >= b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b),
}


def _check(cond: Condition, column: str, kind: str) -> Callable[[Record], bool]:
    if cond.op == "ISNULL":
        return lambda r: r.get(column) is None
    if cond.op == "NOTNULL":
        return lambda r: r.get(column) is not None
    if cond.op == "LIKE":
        pattern = _like(str(cond.literal))
        return lambda r: r.get(column) is not None and bool(pattern.match(str(r[column])))
    wanted = _comparable(kind, cond.literal, column)
    op = _OPS[cond.op]

    def check(r: Record) -> bool:
        value = r.get(column)
        return value is not None and op(_comparable(kind, value, column), wanted)

    return check


def run_query(query: Query, rows: list[Record]) -> list[Record]:
    """The rows of ``query``'s table that match, ordered."""
    types = column_types(query.entity)
    checks: list[Callable[[Record], bool]] = []
    for cond in query.conditions:
        column = _column(cond.column, types)
        checks.append(_check(cond, column, types[column]))
    # a row stored raw (``/_sim/raw``) may be no object or hold any value: it matches no condition and sorts last
    selected = [r for r in rows if isinstance(r, dict) and all(check(r) for check in checks)]
    key_column = id_field(query.entity) if query.entity != "catalogue_item" else "LinkedDataItemId"
    selected.sort(key=lambda r: (0, r.get(key_column) or 0) if isinstance(r.get(key_column) or 0, int) else (1, 0))
    for name, descending in reversed(query.order):
        column = _column(name, types)
        kind = types[column]

        def sort_key(r: Record, c: str = column, k: str = kind) -> Any:
            return _comparable(k, r[c], c)

        present = [r for r in selected if r.get(column) is not None]
        missing = [r for r in selected if r.get(column) is None]
        present.sort(key=sort_key, reverse=descending)
        selected = missing + present if not descending else present + missing
    return selected
