"""One mapping applied offline to exported records: what a create on the other side would send.

``mapsync transform`` reads JSON lines or CSV, and for each record that meets the mapping's condition for its
side yields the values ``values_for_create`` makes of it, nested as a connector writes them (what ``run``
would send, constants and defaults included). The mapping is bound and compiled once (``createplan``); per
record there is the record wrapped once for expressions (only when the condition or a transform reads it),
the condition's closure and the plan's steps, nothing else. No system is contacted.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from mapsync.engine.expressions import ExpressionError, as_record
from mapsync.engine.ruleset import Side
from mapsync.engine.sync.bound import BoundMapping
from mapsync.engine.sync.createplan import compile_create
from mapsync.engine.sync.fieldmerge import HeldField, RuleError

Record = dict[str, Any]
Numbered = tuple[int, Record]  # (line number in the input, record)


class InputError(Exception):
    """The input cannot be read as records (a line that is not a JSON object, say)."""


@dataclass
class TransformCounts:
    read: int = 0
    written: int = 0
    skipped: int = 0  # did not meet the mapping's condition
    errors: int = 0  # a rule error (expression failed, on_unmapped: quarantine)
    held: int = 0  # fields held back (a value the map lacks, on_unmapped: hold)

    def summary(self) -> str:
        return (f"{self.read} read, {self.written} written, {self.skipped} skipped by the condition, "
                f"{self.errors} with errors, {self.held} fields held back")


def read_jsonl(stream: IO[str]) -> Iterator[Numbered]:
    """Records of a JSON lines stream, one object a line; blank lines are ignored."""
    decode = json.JSONDecoder().decode  # what json.loads calls for a text, without its checks per line
    for number, line in enumerate(stream, start=1):
        if not line or line.isspace():  # blank: as `not line.strip()`, without copying the line
            continue
        try:
            record = decode(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number}: not JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise InputError(f"line {number}: not a JSON object")
        yield number, record


def read_csv(stream: IO[str]) -> Iterator[Numbered]:
    """Records of a CSV stream with a header row; every value is a string, as written."""
    reader = csv.DictReader(stream)
    try:
        for row in reader:
            if None in row:
                raise InputError(f"line {reader.line_num}: more values than the header has columns")
            yield reader.line_num, {k: v for k, v in row.items() if v is not None}
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: {exc}") from exc


READERS: dict[str, Callable[[IO[str]], Iterator[Numbered]]] = {".jsonl": read_jsonl, ".csv": read_csv}


def transform(bound: BoundMapping, source: Side, records: Iterable[Numbered], settings: dict[str, Any],
              counts: TransformCounts, on_error: Callable[[int, str], None]) -> Iterator[Record]:
    """For each ``source`` record that meets the mapping's ``source`` condition, the nested values a create on
    the other side would send. Updates ``counts``; a record with a rule error goes to ``on_error`` (its line
    number and the message) and is skipped. ``settings``: the rule set's settings, thawed."""
    plan = compile_create(bound, source.other, settings)
    condition = bound.mapping.conditions.get(source)
    wraps = (condition is not None and not condition.reads_record_flat) or plan.uses_record
    names: dict[str, Any] = {"record": None, "settings": settings}
    values = plan.values
    for number, record in records:
        counts.read += 1
        held: list[HeldField] = []
        try:
            wrapped = as_record(record) if wraps else None  # once per record, for the condition and transforms
            if condition is not None:
                names["record"] = record if wrapped is None else wrapped  # fields only: the record as it is
                if not condition.evaluate(names):
                    counts.skipped += 1
                    continue
            out = values(record, wrapped, held)
        except (RuleError, ExpressionError) as exc:
            counts.errors += 1
            on_error(number, str(exc))
            continue
        if held:
            counts.held += len(held)
        counts.written += 1
        yield out
