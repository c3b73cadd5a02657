"""Reading and writing field values in records: dotted field paths and JMESPath extractors.

``FieldPath`` reads and writes a (possibly nested) field by its catalogue name (``Name``,
``mainContact.email``). ``JmesExtractor`` reads with a JMESPath expression compiled once by
``jmespath.compile``; it cannot write. Both are built when the rule set is compiled.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.functions
from jmespath.exceptions import JMESPathError, LexerError, ParseError
from jmespath.parser import ParsedResult

from mapsync.engine.diagnostics.suggest import did_you_mean
from mapsync.engine.jmesclosures import Interpret, compile_parsed

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
    """A JMESPath expression that reads a value; ``MISSING`` when it yields null. Read by its compiled closure
    (``jmesclosures``) where it has one, else (and for the values the closure leaves to it) by ``jmespath``."""

    expression: str
    compiled: ParsedResult = field(repr=False, compare=False)
    closure: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)

    def get(self, record: Mapping[str, Any]) -> Any:
        closure = self.closure
        if closure is not None:
            try:
                result = closure(record)
                return MISSING if result is None else result
            except Interpret:
                pass
        return self.search(record)

    def search(self, record: Mapping[str, Any]) -> Any:
        """``get`` by the ``jmespath`` interpreter."""
        try:
            result = self.compiled.search(record)
        except JMESPathError as exc:  # e.g. a function given the wrong type for this record
            from mapsync.engine.expressions import ExpressionError

            raise ExpressionError(f"JMESPath {self.expression!r} failed: {exc}") from exc
        return MISSING if result is None else result

    @property
    def writable(self) -> bool:
        return False


@dataclass(frozen=True)
class JmesProblem:
    """Why an extractor does not compile; ``line`` and ``column`` are 1-based (0: no position), ``end_column``
    ends the span on that line (exclusive; 0 for a point)."""

    message: str
    column: int
    hint: str = ""
    line: int = 1
    end_column: int = 0


def _at(expression: str, index: int, length: int = 0) -> tuple[int, int, int]:
    """(line, column, end column) of the character ``index`` of ``expression``, spanning ``length`` characters."""
    line = expression.count("\n", 0, index) + 1
    column = index - (expression.rfind("\n", 0, index) + 1) + 1
    return line, column, column + length if length else 0


def compile_jmespath(expression: str) -> tuple[JmesExtractor | None, JmesProblem | None]:
    """Compile once; on error return the message and the 1-based column of the bad token."""
    try:
        with warnings.catch_warnings():
            # jmespath accepts `foo` (a JSON literal that is not JSON) with a deprecation warning; refuse it.
            warnings.simplefilter("error", PendingDeprecationWarning)
            compiled = jmespath.compile(expression)
    except PendingDeprecationWarning:
        line, column, _ = _at(expression, expression.find("`"))
        return None, JmesProblem("a `literal` must be valid JSON (write `\"text\"` or 'text' for a string)", column,
                                 line=line)
    except (ParseError, LexerError) as exc:
        position = getattr(exc, "lex_position", None)
        if not isinstance(position, int):
            return None, JmesProblem(str(exc).splitlines()[0].rstrip(":"), 0)
        line, column, _ = _at(expression, position)
        return None, JmesProblem(str(exc).splitlines()[0].rstrip(":"), column, line=line)
    except JMESPathError as exc:
        return None, JmesProblem(str(exc).splitlines()[0], 0)
    except RecursionError:  # `[[[[...` thousands deep: the parser recurses once per level
        return None, JmesProblem("the expression is nested too deeply", 1)
    try:
        calls = _function_calls(compiled.parsed)
    except RecursionError:
        return None, JmesProblem("the expression is nested too deeply", 1)
    for name, arguments in calls:
        call = re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", expression)
        line, column, end = _at(expression, call.start(), len(name)) if call else (1, 0, 0)
        if name not in _FUNCTIONS:
            return None, JmesProblem(f"unknown JMESPath function {name!r}", column,
                                     did_you_mean(name, _FUNCTIONS), line, end)
        problem = _arity_problem(name, arguments)
        if problem:
            return None, JmesProblem(problem, column, line=line, end_column=end)
    return JmesExtractor(expression, compiled, compile_parsed(dict(compiled.parsed))), None


def _function_calls(node: Any) -> list[tuple[str, int]]:
    """(name, number of arguments) of every function call in a parsed expression, outermost first."""
    calls: list[tuple[str, int]] = []
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            calls.append((str(node.get("value")), len(node.get("children", []))))
        for child in node.get("children", []):
            calls.extend(_function_calls(child))
    return calls


def _arity_problem(name: str, arguments: int) -> str:
    signature = _FUNCTIONS[name].get("signature", ())
    variadic = bool(signature) and bool(signature[-1].get("variadic"))
    needed = len(signature)
    if variadic and arguments < needed:
        return f"{name}() takes at least {needed} argument(s), got {arguments}"
    if not variadic and arguments != needed:
        return f"{name}() takes {needed} argument(s), got {arguments}"
    return ""


_FUNCTIONS: dict[str, Any] = dict(getattr(jmespath.functions.Functions, "FUNCTION_TABLE", {}))
