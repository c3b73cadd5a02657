"""``GET /Queries?script=...``: webCRM's SQL-like dialect, parsed by ``sqlglot`` (T-SQL grammar).

    SELECT * FROM <Table> [[INNER|LEFT] JOIN <Table> ON <cond>]... [WHERE <cond>] [ORDER BY <Field> [ASC|DESC], ...]

``<cond>`` combines with ``AND``, ``OR``, ``NOT`` and parentheses: ``<Field> <op> <literal or field>``
(``=``, ``<>``, ``!=``, ``>=``, ``<=``, ``>``, ``<``), ``<Field> LIKE '<pattern>'``, ``<Field> IS [NOT]
NULL`` and ``<Field> [NOT] IN (<literal>, ...)``; literals are ``'quoted'`` (``''`` escapes a quote) or
numbers. Fields may be qualified by their table (``Person.PersonOrganisationId``). Tables
(case-insensitive): Organisation, Person, Delivery, QuotationLine, Opportunity, LinkedData. Webcrm's
own integration sends ``OR`` in parentheses and ``Person JOIN Organisation ON (...)``
(apis/REFERENCE.md, "Changed-since queries"); a joined row carries the columns of both tables (their
names never clash: each starts with its table). Anything else (column lists, sub-queries, GROUP BY,
TOP, several statements) is answered with 400.

Choices (the real dialect is NOT CONFIRMED): comparisons on text are case-insensitive (SQL Server's
default collation); date-times compare as instants, a literal without offset being UTC (the
simulator keeps ``*UpdatedAt`` in UTC); ``NULL`` never compares true. The LinkedData table holds the
quotation-line catalogue with generic column names (``LinkedDataItemData1``...), an integer
``LinkedDataItemEntityType`` and a ``LinkedDataItemUpdatedAt`` column; its columns are also accepted
under the catalogue DTO's spelling (``QuotationLineLinkedDataItemData1``...). Rows come in id order
of the first table unless ``ORDER BY`` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from mapsync.connectors.webcrm.simulator.dtos import fields, format_timestamp, id_field, parse_timestamp

Record = dict[str, Any]
RowsOf = Callable[[str], list[Record]]  # the rows of an entity's table

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
_SELECT_PARTS = {"expressions", "from", "from_", "joins", "where", "order"}
_COMPARISONS: dict[type[exp.Expression], Callable[[Any, Any], bool]] = {
    exp.EQ: lambda a, b: bool(a == b),
    exp.NEQ: lambda a, b: bool(a != b),
    exp.GTE: lambda a, b: bool(a >= b),
    exp.LTE: lambda a, b: bool(a <= b),
    exp.GT: lambda a, b: bool(a > b),
    exp.LT: lambda a, b: bool(a < b),
}


class QueryError(Exception):
    """The script cannot be run; answered with HTTP 400."""


@dataclass(frozen=True)
class Join:
    entity: str
    on: exp.Expression
    left: bool  # LEFT JOIN: keep rows without a partner


@dataclass(frozen=True)
class Query:
    entity: str
    joins: tuple[Join, ...]
    where: exp.Expression | None
    order: tuple[tuple[str, bool], ...]  # (column, descending)

    @property
    def entities(self) -> tuple[str, ...]:
        return (self.entity, *(j.entity for j in self.joins))


def _table(node: exp.Expression | None) -> str:
    if not isinstance(node, exp.Table) or node.args.get("db") or node.args.get("catalog"):
        raise QueryError(f"Incorrect syntax near '{node.sql() if node else 'FROM'}'.")
    entity = TABLES.get(node.name.lower())
    if entity is None:
        raise QueryError(f"Invalid object name '{node.name}'.")
    return entity


def parse_query(script: str) -> Query:
    """The parsed script; ``QueryError`` if it is not a query the dialect runs."""
    try:
        statements = [s for s in sqlglot.parse(script.strip(), read="tsql") if s is not None]
    except SqlglotError as exc:
        raise QueryError(f"Incorrect syntax: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise QueryError("Only one SELECT statement can be run.")
    select = statements[0]
    extra = sorted(k for k, v in select.args.items() if v and k not in _SELECT_PARTS)
    if extra:
        raise QueryError(f"{extra[0].upper()} is not supported.")
    if len(select.expressions) != 1 or not isinstance(select.expressions[0], exp.Star):
        raise QueryError("Only SELECT * is supported.")
    from_ = select.args.get("from") or select.args.get("from_")
    entity = _table(from_.this if from_ else None)
    joins: list[Join] = []
    for join in select.args.get("joins") or []:
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER") or join.args.get("on") is None:
            raise QueryError("Only [INNER] JOIN and LEFT JOIN with ON are supported.")
        joins.append(Join(_table(join.this), join.args["on"], side == "LEFT"))
    where = select.args.get("where")
    order: list[tuple[str, bool]] = []
    for ordered in (select.args.get("order") or exp.Order()).expressions:
        if not isinstance(ordered.this, exp.Column):
            raise QueryError("ORDER BY takes column names.")
        order.append((ordered.this.name, bool(ordered.args.get("desc"))))
    query = Query(entity, tuple(joins), where.this if where else None, tuple(order))
    types = _types(query.entities)
    for condition in (query.where, *(j.on for j in joins)):
        if condition is not None:
            _check_columns(condition, types)
    for name, _ in order:
        _column(name, types)
    return query


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


def _types(entities: tuple[str, ...]) -> dict[str, str]:
    types: dict[str, str] = {}
    for entity in entities:
        types.update(column_types(entity))
    return types


def _column(name: str, types: dict[str, str]) -> str:
    bare = name.split(".")[-1]
    if bare.lower().startswith(CATALOGUE_PREFIX.lower()):  # the catalogue DTO's spelling
        bare = LINKED_PREFIX + bare[len(CATALOGUE_PREFIX) :]
    for column in types:
        if column.lower() == bare.lower():
            return column
    raise QueryError(f"Invalid column name '{bare}'.")


def _check_columns(node: exp.Expression, types: dict[str, str]) -> None:
    for column in node.find_all(exp.Column):
        _column(column.name, types)


def _like(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _comparable(kind: str | None, value: Any, column: str) -> Any:
    if kind == "date-time":
        try:
            return parse_timestamp(str(value))
        except ValueError:
            raise QueryError(f"Conversion failed when converting '{value}' to datetime ({column}).") from None
    if kind in ("integer", "number") or (kind is None and isinstance(value, int | float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise QueryError(f"Conversion failed when converting '{value}' to a number ({column}).") from None
    if kind == "boolean":
        return str(value).lower() in ("1", "true", "1.0")
    return str(value).casefold()


class _Evaluator:
    """Evaluates a condition on one (joined) row; ``None`` is SQL's UNKNOWN. What does not depend on the row
    (a column's name, a literal's value and its comparable form) is worked out once per node of the query,
    not once per row: a query over 10,000 records answered in seconds otherwise."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types
        self._columns: dict[int, str] = {}  # id(Column node) -> column
        self._constants: dict[int, tuple[Any, str | None, str]] = {}  # id(literal node) -> operand
        self._comparables: dict[tuple[int, str | None, str], Any] = {}

    def operand(self, node: exp.Expression, row: Record) -> tuple[Any, str | None, str]:
        """(value, column kind or None for a literal, text for messages)."""
        if isinstance(node, exp.Paren):
            return self.operand(node.this, row)
        if isinstance(node, exp.Column):
            column = self._columns.get(id(node))
            if column is None:
                column = self._columns[id(node)] = _column(node.name, self.types)
            return row.get(column), self.types[column], column
        constant = self._constants.get(id(node))
        if constant is None:
            constant = self._constants[id(node)] = self._constant(node)
        return constant

    def comparable(self, node: exp.Expression, kind: str | None, value: Any, text: str, constant: bool) -> Any:
        if not constant:
            return _comparable(kind, value, text)
        key = (id(node), kind, text)
        if key not in self._comparables:
            self._comparables[key] = _comparable(kind, value, text)
        return self._comparables[key]

    @staticmethod
    def _constant(node: exp.Expression) -> tuple[Any, str | None, str]:
        if isinstance(node, exp.Null):
            return None, None, "NULL"
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            return -float(node.this.this), None, node.sql()
        if isinstance(node, exp.Literal):
            return (node.this if node.is_string else float(node.this)), None, node.sql()
        raise QueryError(f"Incorrect syntax near '{node.sql()}'.")

    def compare(self, node: exp.Expression, row: Record) -> bool | None:
        left, left_kind, left_text = self.operand(node.this, row)
        right, right_kind, _ = self.operand(node.expression, row)
        if left is None or right is None:
            return None
        kind = left_kind or right_kind
        return _COMPARISONS[type(node)](
            self.comparable(node.this, kind, left, left_text, left_kind is None),
            self.comparable(node.expression, kind, right, left_text, right_kind is None))

    def __call__(self, node: exp.Expression, row: Record) -> bool | None:
        if isinstance(node, exp.Paren):
            return self(node.this, row)
        if isinstance(node, exp.And):
            a, b = self(node.this, row), self(node.expression, row)
            return False if a is False or b is False else (None if a is None or b is None else True)
        if isinstance(node, exp.Or):
            a, b = self(node.this, row), self(node.expression, row)
            return True if a is True or b is True else (None if a is None or b is None else False)
        if isinstance(node, exp.Not):
            inner = self(node.this, row)
            return None if inner is None else not inner
        if type(node) in _COMPARISONS:
            return self.compare(node, row)
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            return self.operand(node.this, row)[0] is None
        if isinstance(node, exp.Like):
            value = self.operand(node.this, row)[0]
            pattern = self.operand(node.expression, row)[0]
            return None if value is None or pattern is None else bool(_like(str(pattern)).match(str(value)))
        if isinstance(node, exp.In) and not node.args.get("query"):
            value, kind, text = self.operand(node.this, row)
            if value is None:
                return None
            wanted = _comparable(kind, value, text)
            options = [self.operand(e, row)[0] for e in node.expressions]
            return any(o is not None and _comparable(kind, o, text) == wanted for o in options)
        raise QueryError(f"Incorrect syntax near '{node.sql()}'.")


def run_query(query: Query, rows_of: RowsOf) -> list[Record]:
    """The (joined) rows of ``query``'s tables that match, ordered."""
    types = _types(query.entities)
    test = _Evaluator(types)
    key_column = id_field(query.entity) if query.entity != "catalogue_item" else "LinkedDataItemId"
    # a row stored raw (``/_sim/raw``) may be no object or hold any value: it matches no condition and sorts last
    selected = sorted((r for r in rows_of(query.entity) if isinstance(r, dict)),
                      key=lambda r: (0, r.get(key_column) or 0) if isinstance(r.get(key_column) or 0, int) else (1, 0))
    for join in query.joins:
        others = [r for r in rows_of(join.entity) if isinstance(r, dict)]
        blank = dict.fromkeys(column_types(join.entity))
        joined: list[Record] = []
        for row in selected:
            partners = [{**row, **other} for other in others if test(join.on, {**row, **other}) is True]
            joined.extend(partners or ([{**row, **blank}] if join.left else []))
        selected = joined
    if query.where is not None:
        where = query.where
        selected = [r for r in selected if test(where, r) is True]
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
