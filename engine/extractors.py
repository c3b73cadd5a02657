"""Reading and writing field values in records: dotted field paths and JMESPath extractors.

``FieldPath`` reads and writes a (possibly nested) field by its catalogue name (``Name``,
``mainContact.email``). ``JmesExtractor`` reads with a JMESPath expression compiled once by
``jmespath.compile``; it cannot write. Both are built when the rule set is compiled.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.functions
from jmespath.exceptions import JMESPathError, LexerError, ParseError
from jmespath.parser import ParsedResult

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()
"""A field absent from a record; distinct from None (rule 4: missing is not null)."""


@dataclass(frozen=True)
class FieldPath:
    """A field name, possibly dotted for nested objects."""

    name: str
    parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.name.split(".")))

    def get(self, record: Mapping[str, Any]) -> Any:
        """The value, or ``MISSING`` when the field (or an object on the way) is absent."""
        current: Any = record
        for part in self.parts:
            if not isinstance(current, Mapping) or part not in current:
                return MISSING
            current = current[part]
        return current

    def set(self, record: MutableMapping[str, Any], value: Any) -> None:
        current: MutableMapping[str, Any] = record
        for part in self.parts[:-1]:
            child = current.get(part)
            if not isinstance(child, MutableMapping):
                child = {}
                current[part] = child
            current = child
        current[self.parts[-1]] = value

    @property
    def writable(self) -> bool:
        return True


@dataclass(frozen=True)
class JmesExtractor:
    """A JMESPath expression that reads a value; ``MISSING`` when it yields null."""

    expression: str
    compiled: ParsedResult = field(repr=False, compare=False)

    def get(self, record: Mapping[str, Any]) -> Any:
        result = self.compiled.search(record)
        return MISSING if result is None else result

    @property
    def writable(self) -> bool:
        return False


@dataclass(frozen=True)
class JmesProblem:
    message: str
    column: int


def compile_jmespath(expression: str) -> tuple[JmesExtractor | None, JmesProblem | None]:
    """Compile once; on error return the message and the 1-based column of the bad token."""
    try:
        compiled = jmespath.compile(expression)
    except (ParseError, LexerError) as exc:
        position = getattr(exc, "lex_position", None)
        column = (position + 1) if isinstance(position, int) else 0
        return None, JmesProblem(str(exc).splitlines()[0].rstrip(":"), column)
    except JMESPathError as exc:
        return None, JmesProblem(str(exc).splitlines()[0], 0)
    unknown = sorted(_function_names(compiled.parsed) - _KNOWN_FUNCTIONS)
    if unknown:
        return None, JmesProblem(f"unknown JMESPath function {unknown[0]!r}", expression.find(unknown[0]) + 1)
    return JmesExtractor(expression, compiled), None


def _function_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            names.add(str(node.get("value")))
        for child in node.get("children", []):
            names |= _function_names(child)
    return names


_KNOWN_FUNCTIONS = frozenset(getattr(jmespath.functions.Functions, "FUNCTION_TABLE", {}))

