"""Expressions in rule files: conditions, transforms and `enabled` switches.

An expression is a Python-style expression evaluated by simpleeval (an allow-list evaluator). It is
parsed and checked **once**, when the rule set is compiled: syntax, names, functions, and any node or
operator simpleeval would refuse, and constant parts that would exhaust the evaluator (``2 ** 99999999``, a
format width of a gigabyte, %-formatting). The checked tree is then compiled to a closure (``closures``) with
simpleeval's semantics; at run time ``Expression.evaluate(names)`` only calls it: no parsing, no evaluator built.

Names an expression may use depend on where it stands (``record`` and ``settings`` in conditions;
``value``, ``record`` and ``settings`` in transforms). ``FUNCTIONS`` is the fixed function library,
documented in docs/rules.md.

Parsing is serialised in a process (``_PARSE_LOCK``): CPython 3.11's ``ast.parse`` keeps its recursion depth
in state shared by threads, and two threads parsing at once can fail with "SystemError: AST constructor
recursion depth mismatch" (CPython issue gh-106905), as concurrent tenants' first passes in ``serve`` or a
worker's threads load their rule sets.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

from mapsync.engine.closures import DICT_ATTRIBUTES, Closure, compile_tree
from mapsync.engine.countries import country_code, country_name
from mapsync.engine.diagnostics.suggest import closest, did_you_mean
from mapsync.engine.textlines import first_line, other_lines


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    text = str(value).strip().replace(",", ".")
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _round(value: Any, digits: int = 0) -> float | int | None:
    number = _number(value)
    if number is None:
        return None
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(str(number)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded) if digits <= 0 else float(rounded)


def _date(value: Any) -> str | None:
    """The date part (YYYY-MM-DD) of a date or date-time string."""
    if value in (None, ""):
        return None
    text = str(value)
    return dt.date.fromisoformat(text[:10]).isoformat()


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value not in (None, ""):
            return value
    return None


def _concat(*values: Any) -> str:
    return "".join(_text(v) for v in values)


def _join(separator: str, *values: Any) -> str:
    return separator.join(_text(v) for v in values if v not in (None, ""))


def _left(value: Any, length: int) -> str | None:
    return None if value is None else str(value)[:length]


def _split(value: Any, separator: str | None = None) -> list[str]:
    return [] if value in (None, "") else str(value).split(separator)


MAX_TEXT = 100_000
"""The longest text an expression may make (simpleeval's own limit for ``*`` and ``+``); longer is an error."""
MAX_EXPONENT = 1_000
"""The largest exponent ``**`` takes; ``2 ** 99999999`` would occupy the evaluator for minutes."""
MAX_FORMAT_WIDTH = 999
"""The widest field (and longest precision) a format specification of an f-string may ask for."""


def _replace(value: Any, old: Any, new: Any) -> str | None:
    if value is None:
        return None
    text, old_text, new_text = str(value), str(old), str(new)
    count = text.count(old_text) if old_text else len(text) + 1
    if len(text) + count * (len(new_text) - len(old_text)) > MAX_TEXT:
        raise ValueError(f"replace() would make a text longer than {MAX_TEXT:,} characters")
    return text.replace(old_text, new_text)


def _safe_power(base: Any, exponent: Any) -> Any:
    """``**`` with its exponent bounded, and the digits of an integer result too."""
    if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"the exponent {exponent} is larger than {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and base.bit_length() * exponent > 64 * MAX_EXPONENT:
        raise ValueError(f"{base} ** {exponent} is too large a number")
    return base**exponent


def _safe_mod(left: Any, right: Any) -> Any:
    """``%`` on numbers only: %-formatting of a text (``'%999999999s' % value``) is refused."""
    if isinstance(left, str | bytes):
        raise TypeError("%-formatting of a text is not allowed; use concat() or an f-string")
    return left % right


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


_PARSE_LOCK = threading.Lock()  # see the module's docstring: ast.parse is not safe in threads at once

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "str": _text,
    "int": lambda v: None if v in (None, "") else int(float(str(v).replace(",", "."))),
    "float": lambda v: None if v in (None, "") else float(str(v).replace(",", ".")),
    "number": _number,
    "bool": lambda v: str(v).strip().lower() in ("1", "true", "yes", "on") if isinstance(v, str) else bool(v),
    "round": _round,
    "abs": abs,
    "min": min,
    "max": max,
    "len": lambda v: 0 if v is None else len(v),
    "upper": lambda v: None if v is None else str(v).upper(),
    "lower": lambda v: None if v is None else str(v).lower(),
    "strip": lambda v: None if v is None else str(v).strip(),
    "title": lambda v: None if v is None else str(v).title(),
    "left": _left,
    "replace": _replace,
    "split": _split,
    "concat": _concat,
    "join": _join,
    "coalesce": _coalesce,
    "date": _date,
    "today": lambda: dt.date.today().isoformat(),
    "now": lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "is_empty": _is_empty,
    "country_code": country_code,
    "country_name": country_name,
    "first_line": first_line,
    "other_lines": other_lines,
}

FUNCTION_DOCS: dict[str, str] = {
    "str": "text of a value; None becomes ''",
    "int": "integer of a number or numeric text ('12', '12.0'); empty becomes None",
    "float": "float of a number or numeric text (comma or point); empty becomes None",
    "number": "int or float of a value or numeric text; empty becomes None",
    "bool": "truth of a value; text 'true', '1', 'yes', 'on' is true",
    "round": "round(value, digits=0), half up; numeric text accepted",
    "abs": "absolute value",
    "min": "smallest argument",
    "max": "largest argument",
    "len": "length; None is 0",
    "upper": "text in upper case",
    "lower": "text in lower case",
    "strip": "text without surrounding blanks",
    "title": "text in title case",
    "left": "left(value, n): the first n characters",
    "replace": "replace(value, old, new)",
    "split": "split(value, separator=None): list of parts",
    "concat": "concat(a, b, ...): the texts joined without separator; None counts as ''",
    "join": "join(separator, a, b, ...): the non-empty texts joined with separator",
    "coalesce": "the first argument that is neither None nor ''",
    "date": "the YYYY-MM-DD date part of a date or date-time",
    "today": "today's date as YYYY-MM-DD",
    "now": "the current time, UTC, as YYYY-MM-DDTHH:MM:SSZ",
    "is_empty": "true for None, '', [] and {}",
    "country_code": "ISO 3166 alpha-2 code of a code or an English or Nordic country name; unknown raises",
    "country_name": "country_name(code, language='en'): the country's name in en, sv, nb, nn, da or fi",
    "first_line": "the text up to the first line break",
    "other_lines": "the text after the first line break ('' when there is none)",
}

# Expression nodes the evaluator accepts. Assignments, imports, lambdas and comprehensions are not here.
_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expr, ast.Name, ast.Load, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.Attribute, ast.Slice, ast.Constant,
    ast.JoinedStr, ast.FormattedValue, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.And, ast.Or,
)


_OPERATORS: dict[Any, Any] = {**EvalWithCompoundTypes().operators, ast.Pow: _safe_power, ast.Mod: _safe_mod}


@dataclass(frozen=True)
class ExpressionProblem:
    """A problem found while compiling an expression. ``line`` and ``column`` (in characters) are 1-based within
    the expression as parsed (stripped of surrounding blanks); ``end_column`` ends the span on that line
    (exclusive; 0 when the problem is at one point)."""

    code: str
    message: str
    column: int = 0
    hint: str = ""
    line: int = 1
    end_column: int = 0


class ExpressionError(Exception):
    """An expression failed at run time for one record (a rule error, quarantined with the record)."""


class _Record(dict[str, Any]):
    """A record as expressions see it: a missing field reads as None instead of failing."""

    def __missing__(self, key: str) -> None:
        return None


def as_record(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """Wrap a record (and nested objects) so that ``record.Missing`` is None in expressions."""
    if record is None:
        return _Record()
    wrapped = _Record(record)
    if not _SCALARS.issuperset(map(type, record.values())):  # a flat record (the usual) is copied in C
        for key, value in record.items():
            if value.__class__ not in _SCALARS and isinstance(value, Mapping):
                wrapped[key] = as_record(value)
    return wrapped


_SCALARS = frozenset({str, int, float, bool, type(None), list})
"""Classes of the values that are not mappings, tested before the (slower) ``isinstance(value, Mapping)``."""


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression. Evaluate many times; it never parses again."""

    text: str
    tree: ast.AST = field(repr=False, compare=False)
    names: frozenset[str] = frozenset()
    attributes: tuple[tuple[str, str], ...] = ()  # (name, attribute) pairs used, e.g. ("record", "Type")
    chains: tuple[tuple[str, ...], ...] = ()  # whole dotted chains, e.g. ("settings", "crm_fields", "x")

    run: Closure = field(repr=False, compare=False, default=lambda names: None)

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """The value for ``names`` (``record``, ``value``, ``settings``): the compiled closure, called."""
        try:
            return self.run(names)
        except FAILURES as exc:
            raise self.failure(exc) from exc

    def failure(self, exc: BaseException) -> ExpressionError:
        """The error ``evaluate`` raises when evaluating failed with ``exc`` (one of ``FAILURES``)."""
        return ExpressionError(f"{self.text!r} failed: {type(exc).__name__}: {exc}")

    @property
    def reads_record_flat(self) -> bool:
        """Whether every use of ``record`` is ``record.<field>`` and nothing more (no ``record.a.b``, no bare
        ``record``): such an expression gives the same result on the plain record as on ``as_record`` of it, so
        a caller may skip the wrapped copy."""
        if "record" not in self.names:
            return True
        fields = sum(1 for name, attr in self.attributes if name == "record" and attr not in DICT_ATTRIBUTES)
        uses = sum(1 for node in ast.walk(self.tree) if isinstance(node, ast.Name) and node.id == "record")
        return uses == fields and all(len(chain) <= 2 for chain in self.chains if chain[0] == "record")

    def value_function(self) -> Callable[[Any], Any] | None:
        """When the expression is one function applied to ``value`` alone (``country_code(value)``), that
        function: calling it on the value is the expression (its errors are those of ``FAILURES``; the caller
        turns them into ``failure(exc)``). None for any other expression."""
        node = self.tree.value if isinstance(self.tree, ast.Expr) else self.tree
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords
                and len(node.args) == 1 and isinstance(node.args[0], ast.Name) and node.args[0].id == "value"):
            return FUNCTIONS[node.func.id]
        return None


FAILURES = (InvalidExpression, ArithmeticError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            RecursionError)
"""What evaluating an expression can raise for a value it cannot handle: turned into ``ExpressionError``."""


_COMPILED: dict[tuple[str, frozenset[str]], tuple[Expression | None, tuple[ExpressionProblem, ...]]] = {}
"""Expressions compiled in this process, by their text and the names they may use: a text is parsed, checked and
turned into a closure once, however many rules (and rule sets: ``serve``) hold it. An ``Expression`` is
immutable, so rules share it."""
_CACHED_TEXT = 2_000
"""Longer texts are compiled each time, not kept (a hostile file's megabyte-long expression)."""
_CACHED_COUNT = 4_096
"""The cache is emptied when it holds this many expressions (rule sets reloaded many times in a long ``serve``)."""


class _NotKept(Exception):
    """A compilation whose outcome depends on the moment (the parser's recursion limit in this thread)."""

    def __init__(self, problem: ExpressionProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def compile_expression(text: str, allowed_names: Iterable[str]) -> tuple[Expression | None, list[ExpressionProblem]]:
    """Parse and check ``text``; returns the expression or every problem found. Compiled once per distinct text
    and names in a process (``_COMPILED``)."""
    key = (text.strip(), frozenset(allowed_names))
    known = _COMPILED.get(key)
    if known is None:
        try:
            known = _compile(*key)
        except _NotKept as exc:
            return None, [exc.problem]
        if len(key[0]) <= _CACHED_TEXT:
            if len(_COMPILED) >= _CACHED_COUNT:
                _COMPILED.clear()
            _COMPILED[key] = known
    return known[0], list(known[1])


def _compile(text: str, allowed: frozenset[str]) -> tuple[Expression | None, tuple[ExpressionProblem, ...]]:
    """``compile_expression`` of a stripped text; raises ``_NotKept`` for an outcome not to be cached."""
    source_lines = text.splitlines() or [""]
    try:
        with _PARSE_LOCK:
            module = ast.parse(text)
    except SyntaxError as exc:
        line = exc.lineno or 1
        end = exc.end_offset or 0 if exc.end_lineno == exc.lineno and (exc.end_offset or 0) > (exc.offset or 0) else 0
        return None, (ExpressionProblem("MS401", exc.msg, exc.offset or 0, line=line, end_column=end),)
    except ValueError as exc:  # NUL characters on older Pythons
        return None, (ExpressionProblem("MS401", str(exc), 1),)
    except (MemoryError, RecursionError):  # absurd nesting
        raise _NotKept(ExpressionProblem("MS401", "the expression is too deeply nested to parse", 1)) from None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Expr):
        first = module.body[0] if module.body else None
        if isinstance(first, ast.Assign | ast.AugAssign | ast.AnnAssign):
            line, column, _ = _position(first, source_lines)
            return None, (ExpressionProblem("MS404", "an assignment is not allowed (to compare, write ==)",
                                            column, line=line),)
        return None, (ExpressionProblem("MS404", "only a single expression is allowed, no statements or ';'", 1),)
    tree: ast.AST = module.body[0]
    problems: list[ExpressionProblem] = []
    used_names: set[str] = set()
    attributes: list[tuple[str, str]] = []
    memo: dict[int, Any] = {}

    def visit(node: ast.AST, *, called: bool = False, outer: ast.AST | None = None) -> None:
        at = node if hasattr(node, "col_offset") else outer  # where a problem of this node is reported

        def problem(code: str, message: str, hint: str = "") -> None:
            line, column, end = _position(at, source_lines) if at is not None else (1, 1, 0)
            problems.append(ExpressionProblem(code, message, column, hint=hint, line=line,
                                              end_column=end if at is node else 0))

        if isinstance(node, ast.operator | ast.unaryop | ast.cmpop):
            if type(node) not in _OPERATORS:
                problem("MS404", f"operator {type(node).__name__} is not allowed")
            return
        if not isinstance(node, _ALLOWED_NODES):
            problem("MS404", f"{type(node).__name__} is not allowed in expressions")
            return  # do not report what lies inside a refused construct
        limit = _limit_problem(node, memo)
        if limit:
            problem("MS404", limit)
            return
        if isinstance(node, ast.Name):
            if called:
                if node.id not in FUNCTIONS:
                    problem("MS403", f"unknown function {node.id!r}", did_you_mean(node.id, FUNCTIONS))
            elif node.id not in allowed:
                problem("MS402", f"unknown name {node.id!r}", did_you_mean(node.id, allowed))
            else:
                used_names.add(node.id)
            return
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                problem("MS404", f"private attribute {node.attr!r} is not allowed")
                return
            if called:
                if node.attr in FUNCTIONS:
                    problem("MS403", f"method call .{node.attr}() is not allowed; use {node.attr}(...)")
                else:
                    close = closest(node.attr, FUNCTIONS)
                    problem("MS403", f"method call .{node.attr}() is not allowed",
                            f"did you mean {close}({ast.unparse(node.value)})?" if close else "")
            if isinstance(node.value, ast.Name):
                attributes.append((node.value.id, node.attr))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name | ast.Attribute):
                before = len(problems)
                visit(node.func)
                if len(problems) == before:
                    problem("MS404", "only functions can be called by name, e.g. upper(value)")
                return
            visit(node.func, called=True)
            for child in [*node.args, *node.keywords]:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, outer=at)

    try:
        visit(tree)
    except RecursionError:
        raise _NotKept(ExpressionProblem("MS404", "the expression is too deeply nested", 1)) from None
    problems.sort(key=lambda p: (p.line, p.column))
    if problems:
        return None, tuple(problems)
    try:
        run = compile_tree(tree, text, FUNCTIONS, _OPERATORS)
    except RecursionError:
        raise _NotKept(ExpressionProblem("MS404", "the expression is too deeply nested", 1)) from None
    return Expression(text, tree, frozenset(used_names), tuple(attributes), _chains(tree), run), ()


class _NotConstant(Exception):
    pass


_NOT_CONSTANT: Any = object()


def _constant(node: ast.AST, memo: dict[int, Any]) -> Any:
    """The value of a constant sub-expression (numbers and texts with operators), computed with the run time's
    bounded operators; ``_NotConstant`` when it depends on anything else. ``memo`` keeps each node's answer, so
    that checking every operator of a long chain stays linear."""
    known = memo.get(id(node))
    if known is _NOT_CONSTANT:
        raise _NotConstant
    if known is not None:
        return known[0]
    value: Any
    try:
        if isinstance(node, ast.Constant):
            value = node.value
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = _constant(node.operand, memo)
            value = -operand if isinstance(node.op, ast.USub) else +operand
        elif isinstance(node, ast.List | ast.Tuple):
            items = [_constant(item, memo) for item in node.elts]
            value = items if isinstance(node, ast.List) else tuple(items)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = _constant(node.left, memo), _constant(node.right, memo)
            value = _OPERATORS[type(node.op)](left, right)
        else:
            raise _NotConstant
    except _NotConstant:
        memo[id(node)] = _NOT_CONSTANT
        raise
    memo[id(node)] = (value,)
    return value


_FORMAT_NUMBER = re.compile(r"\d+")


def _limit_problem(node: ast.AST, memo: dict[int, Any]) -> str:
    """Why ``node`` would exhaust the evaluator (a huge number, text or format width), or ''."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and len(node.value) > MAX_TEXT:
        return f"a text of {len(node.value):,} characters is longer than the {MAX_TEXT:,} an expression may hold"
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod) and (isinstance(node.left, ast.JoinedStr) or (
                isinstance(node.left, ast.Constant) and isinstance(node.left.value, str | bytes))):
            return "%-formatting of a text is not allowed; use concat() or an f-string"
        try:
            value = _constant(node, memo)
        except _NotConstant:
            return ""
        except (ArithmeticError, ValueError, TypeError, InvalidExpression) as exc:
            return f"this cannot be computed: {exc}"
        if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_TEXT:
            return f"this makes a value of {len(value):,} items, more than the {MAX_TEXT:,} allowed"
        return ""
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
        if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
            return "a format specification computed by the expression is not allowed; write it out"
        text = "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
        widest = max((int(n) for n in _FORMAT_NUMBER.findall(text)), default=0)
        if widest > MAX_FORMAT_WIDTH:
            return f"the format width or precision {widest} is larger than {MAX_FORMAT_WIDTH}"
    return ""


def _position(node: ast.AST, lines: list[str]) -> tuple[int, int, int]:
    """(line, column, end column) of a node, 1-based and in characters (``ast`` counts UTF-8 bytes); the end is
    0 when the node ends on another line."""
    line = getattr(node, "lineno", 1)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    encoded = text.encode("utf-8")

    def chars(offset: int) -> int:
        return len(encoded[:offset].decode("utf-8", errors="replace")) + 1

    end_offset = getattr(node, "end_col_offset", None)
    end = chars(end_offset) if getattr(node, "end_lineno", None) == line and end_offset is not None else 0
    return line, chars(getattr(node, "col_offset", 0)), end


def _chains(tree: ast.AST) -> tuple[tuple[str, ...], ...]:
    """Every longest ``name.attr.attr`` chain of the tree."""
    attributes = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute)]
    inner = {id(node.value) for node in attributes}
    chains: list[tuple[str, ...]] = []
    for node in attributes:
        if id(node) in inner:
            continue
        parts: list[str] = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name):
            chains.append((current.id, *reversed(parts)))
    return tuple(chains)
