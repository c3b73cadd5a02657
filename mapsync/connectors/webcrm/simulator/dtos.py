"""The DTOs the webCRM simulator serves (``dtos.json``, from the verbatim 2019 Swagger) and the
type handling of written values.

Choices (NOT CONFIRMED): a new record has every DTO field, strings and date-times ``null``,
numbers ``0``, booleans ``false``, enums their first value. Written values are bound like ASP.NET
Web API does: numbers for string fields become strings, numeric strings for number fields become
numbers, enums match case-insensitively (or by index); anything else is a 400 with a ``ModelState``
body. Unknown fields are ignored (as JSON.NET does).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

Record = dict[str, Any]

PREFIXES = {
    "organisation": "Organisation",
    "person": "Person",
    "delivery": "Delivery",
    "quotation_line": "QuotationLine",
    "catalogue_item": "QuotationLineLinkedDataItem",
    "opportunity": "Opportunity",
}
ENTITIES = tuple(PREFIXES)
TITLES = {
    "organisation": "Organisation",
    "person": "Person",
    "delivery": "Delivery",
    "quotation_line": "QuotationLine",
    "catalogue_item": "LinkedData",
    "opportunity": "Opportunity",
}


class ValidationError(Exception):
    """A written value that cannot be bound: ``field`` and a message (ASP.NET ModelState style)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@cache
def _data() -> dict[str, Any]:
    with (Path(__file__).parent / "dtos.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def fields(entity: str) -> dict[str, dict[str, Any]]:
    """Field name -> spec (``type``, optional ``max_length``, ``enum``), in DTO order."""
    specs: dict[str, dict[str, Any]] = _data()["entities"][entity]
    return specs


def write_only_fields(entity: str) -> dict[str, dict[str, Any]]:
    """Fields accepted on write but not returned (``QuotationLineLinkedDataId``)."""
    specs: dict[str, dict[str, Any]] = _data()["write_only"].get(entity, {})
    return specs


def id_field(entity: str) -> str:
    return PREFIXES[entity] + "Id"


def system_fields(entity: str) -> frozenset[str]:
    """Fields the server maintains; ignored on write."""
    prefix = PREFIXES[entity]
    names = {f"{prefix}Id", f"{prefix}CreatedAt", f"{prefix}CreatedBy", f"{prefix}UpdatedAt", f"{prefix}UpdatedBy"}
    return frozenset(names & fields(entity).keys() | {f"{prefix}Id"})


def default_value(spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "enum":
        return spec["enum"][0]
    return None


def default_record(entity: str) -> Record:
    return {name: default_value(spec) for name, spec in fields(entity).items()}


def format_timestamp(instant: datetime) -> str:
    """How the simulator writes ``*UpdatedAt``/``*CreatedAt``: UTC, ISO 8601, milliseconds, ``Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC. ``ValueError`` if bad."""
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bind(name: str, spec: dict[str, Any], value: Any) -> Any:
    """The value to store for a written ``value`` of a field with ``spec``."""
    kind = spec["type"]
    if value is None:
        return default_value(spec)
    if kind == "string":
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            raise ValidationError(name, "Error converting value to type 'System.String'.")
        limit = spec.get("max_length")
        if limit is not None and len(value) > limit:
            raise ValidationError(name, f"The field {name} must be a string with a maximum length of {limit}.")
        return value
    if kind in ("integer", "number"):
        number: float
        if isinstance(value, bool):
            raise ValidationError(name, f"Could not convert to {kind}.")
        if isinstance(value, int | float):
            number = value
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise ValidationError(name, f"Could not convert string to {kind}: {value}.") from None
        else:
            raise ValidationError(name, f"Could not convert to {kind}.")
        if kind == "integer":
            if not float(number).is_integer():
                raise ValidationError(name, f"Input string '{value}' is not a valid integer.")
            return int(number)
        return int(number) if float(number).is_integer() and abs(number) < 2**53 else float(number)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValidationError(name, "Could not convert to boolean.")
    if kind == "enum":
        options: list[str] = spec["enum"]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(options):
            return options[value]
        if isinstance(value, str):
            for option in options:
                if option.lower() == value.lower():
                    return option
        raise ValidationError(name, f"Requested value '{value}' was not found.")
    if kind == "date-time":
        if not isinstance(value, str):
            raise ValidationError(name, "Could not convert to DateTime.")
        try:
            parse_timestamp(value)
        except ValueError:
            raise ValidationError(name, f"Could not convert string to DateTime: {value}.") from None
        return value
    return value  # pragma: no cover - every DTO type is handled above
