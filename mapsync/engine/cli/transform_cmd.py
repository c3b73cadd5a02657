"""``mapsync transform RULESET --mapping M --from crm|erp --input FILE``: one mapping applied to an export."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.cli.common import add_state_option
from mapsync.engine.diagnostics import Severity, render
from mapsync.engine.ruleset import Side, UsageError, load_ruleset
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.sync.bound import bind
from mapsync.engine.sync.transform import READERS, InputError, TransformCounts, transform


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "transform", help="apply one mapping to exported records, offline",
        description="Apply one mapping to an export of the --from side: JSON lines (.jsonl) or CSV (.csv, "
                    "header row) in, JSON lines out: per record, the values a create on the other side would "
                    "send (constants and defaults included). Records that do not meet the mapping's condition "
                    "are skipped; rule errors are reported with their line number. Contacts no system. "
                    "Exit 0 done, 1 input error, 2 usage error.")
    parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
    parser.add_argument("--mapping", required=True, help="the mapping to apply")
    parser.add_argument("--from", dest="source", required=True, metavar="crm|erp",
                        help="the side the input was exported from")
    parser.add_argument("--input", required=True, metavar="FILE", help="records: .jsonl or .csv")
    parser.add_argument("--output", metavar="FILE", help="JSON lines written here (default: stdout)")
    add_state_option(parser)  # accepted by every command (contract); transform does not use it
    parser.set_defaults(handler=run)


def _usage(message: str) -> int:
    print(f"mapsync transform: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.source not in ("crm", "erp"):
        return _usage(f"--from must be crm or erp, not {args.source!r}")
    source = Side(args.source)
    reader = READERS.get(Path(args.input).suffix.lower())
    if reader is None:
        return _usage(f"--input {args.input}: expected a .jsonl or .csv file")
    try:
        result = load_ruleset(args.ruleset, os.environ)
    except UsageError as exc:
        return _usage(str(exc))
    if not result.ok or result.ruleset is None:
        sys.stderr.write(render("text", result.diagnostics, result.files))
        errors = sum(1 for d in result.diagnostics if d.severity is Severity.ERROR)
        return _usage(f"rule set {args.ruleset} has {errors} error(s); nothing transformed")
    ruleset = result.ruleset
    mapping = next((m for m in ruleset.mappings if m.name == args.mapping), None)
    if mapping is None:
        names = ", ".join(m.name for m in ruleset.mappings) or "none"
        return _usage(f"unknown mapping {args.mapping!r} (the rule set has: {names})")
    if not mapping.direction.writes(source.other):
        return _usage(f"mapping {mapping.name} does not write to {source.other.value}")
    catalogues = {side: load_catalogue(ruleset.system(side).connector) for side in Side}
    try:
        bound = bind(mapping, catalogues, ruleset.settings)
    except ValueError as exc:
        return _usage(str(exc))
    settings = thaw(ruleset.settings)

    counts = TransformCounts()

    def on_error(line: int, message: str) -> None:
        print(f"{args.input}:{line}: {message}", file=sys.stderr)

    try:
        stream = open(args.input, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        print(f"mapsync transform: cannot read {args.input}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    partial = Path(args.output + ".partial") if args.output else None
    try:
        with stream:
            out: IO[str] = partial.open("w", encoding="utf-8") if partial is not None else sys.stdout
            try:
                encode = json.JSONEncoder(ensure_ascii=False, default=str).encode  # json.dumps's, made once
                write = out.write
                for values in transform(bound, source, reader(stream), settings, counts, on_error):
                    write(encode(values) + "\n")
            finally:
                if partial is not None:
                    out.close()
    except (InputError, UnicodeDecodeError) as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        print(f"mapsync transform: {args.input}: {exc}", file=sys.stderr)
        return 1
    if partial is not None:
        os.replace(partial, args.output)
    print(f"mapsync transform: {counts.summary()}", file=sys.stderr)
    return 0
