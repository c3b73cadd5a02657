"""JSON Schema validation of rule files, every error turned into a located diagnostic.

The schemas live in ``schemas/`` at the top of the repository (``ruleset.schema.json`` for
``ruleset.yaml``, ``mapping.schema.json`` for mapping files). Errors are reported all at once; for
``oneOf``/``anyOf`` the most relevant branch error is chosen (as check-jsonschema does), and unknown
properties and bad enum values get a "did you mean" hint.

Most rule files are valid, so a document is first checked by ``jsonschema-rs`` (compiled, one validator per
schema for the process): a valid document costs a few microseconds. Only a document it refuses, or cannot take
(a date, a key that is not a text), goes through ``jsonschema`` for the located errors; where the two might
differ (a regular expression's ``$``), the detailed check decides, so no diagnostic is lost.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapsync.connectors.registry import CONNECTOR_NAMES
from mapsync.engine.diagnostics import Diagnostic
from mapsync.engine.diagnostics.suggest import did_you_mean
from mapsync.engine.ruleset.source import PathKey, SourceDocument

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
RULESET_SCHEMA = "ruleset.schema.json"
MAPPING_SCHEMA = "mapping.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A shipped schema; the rule set schema's connector names come from the connector registry
    (``mapsync.connectors.registry``), the one place a connector is added."""
    with (SCHEMA_DIR / name).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    if name == RULESET_SCHEMA:
        schema["$defs"]["system"]["properties"]["connector"]["enum"] = list(CONNECTOR_NAMES)
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    """The detailed validator (every error, with its path and schema), imported only when a document fails."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


@cache
def _fast_validator(name: str) -> Any:
    """The compiled validator that tells valid from invalid; None when ``jsonschema-rs`` is not installed."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(load_schema(name))


def is_valid_fast(data: Any, schema_name: str) -> bool:
    """Whether the compiled validator finds ``data`` valid; False when it cannot tell (not installed, or data
    it cannot take: dates, keys that are not texts), so that the detailed check decides."""
    fast = _fast_validator(schema_name)
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(data))
    except (ValueError, TypeError, OverflowError):
        return False


def schema_for(file_name: str) -> str:
    return RULESET_SCHEMA if Path(file_name).name == "ruleset.yaml" else MAPPING_SCHEMA


def _did_you_mean(word: str, choices: list[str]) -> str:
    did = did_you_mean(word, choices)
    return f"{did} " if did else ""


def _type_names(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    words = {"object": "a mapping", "array": "a list", "string": "a text", "boolean": "true or false",
             "integer": "an integer", "number": "a number", "null": "null"}
    return " or ".join(words.get(str(n), str(n)) for n in names)


def _diagnostics(error: ValidationError, doc: SourceDocument) -> list[Diagnostic]:
    path: PathKey = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("oneOf", "anyOf") and error.context:
        # Prefer the branch whose type matches the instance; report its errors.
        relevant = [e for e in error.context if e.validator != "type"] or list(error.context)
        if all(e.validator == "required" for e in relevant) and kind == "anyOf":
            needed = " or ".join(repr(e.message.split("'")[1]) for e in relevant)
            return [Diagnostic("MS202", f"one of {needed} is required here", doc.location(path))]
        from jsonschema.exceptions import best_match

        chosen = best_match(relevant)
        if chosen is not None:
            return _diagnostics(chosen, doc)
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed:
                continue
            hint = _did_you_mean(str(key), allowed) + ("allowed here: " + ", ".join(allowed) if allowed else "")
            out.append(Diagnostic("MS201", f"unknown property {key!r}", doc.location((*path, key), key=True),
                                  hint=hint))
        if out:
            return out
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [Diagnostic("MS202", f"missing required property {missing!r}", doc.location(path))]
    if kind == "type":
        return [Diagnostic("MS203", f"expected {_type_names(error.validator_value)}, got "
                                    f"{type(error.instance).__name__} {error.instance!r}"[:200],
                           doc.location(path))]
    if kind in ("enum", "const"):
        allowed_values = error.validator_value if kind == "enum" else [error.validator_value]
        hint = _did_you_mean(str(error.instance), [str(v) for v in allowed_values])
        hint += "allowed: " + ", ".join(str(v) for v in allowed_values)
        return [Diagnostic("MS204", f"{error.instance!r} is not allowed here", doc.location(path), hint=hint)]
    if kind == "uniqueItems" and isinstance(error.instance, list):
        for index, item in enumerate(error.instance):
            if item in error.instance[:index]:
                return [Diagnostic("MS205", f"{item!r} is listed twice", doc.location((*path, index)))]
    if kind == "pattern":
        return [Diagnostic("MS204", f"{error.instance!r} does not match the pattern {error.validator_value}",
                           doc.location(path))]
    return [Diagnostic("MS205", error.message[:300], doc.location(path))]


def check_schema(doc: SourceDocument, schema_name: str | None = None) -> list[Diagnostic]:
    """Every schema error of a parsed document."""
    if doc.data is None:
        return []
    name = schema_name or schema_for(doc.file)
    if is_valid_fast(doc.data, name):
        return []
    validator = _validator(name)
    out: list[Diagnostic] = []
    for error in validator.iter_errors(doc.data):
        out.extend(_diagnostics(error, doc))
    # A value of the wrong type is not also "not allowed": keep the type error alone.
    mistyped = {d.location.json_path for d in out if d.code == "MS203"}
    return [d for d in out if d.code != "MS204" or d.location.json_path not in mistyped]
