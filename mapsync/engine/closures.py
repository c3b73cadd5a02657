"""Checked expression trees compiled to Python closures, once: evaluation walks no tree and builds no evaluator.

``compile_tree(tree, text, functions, operators)`` turns the tree of an expression that ``expressions`` has
already checked (only allowed nodes, names, functions and attributes) into one function of the names
(``{"record": ..., "value": ..., "settings": ...}``). Its semantics are simpleeval's (``EvalWithCompoundTypes``),
which evaluated rule expressions before: the same operators (with the same limits), ``and``/``or`` returning
an operand, attribute access trying the attribute and then the key, f-strings formatting with their
specification and limited in length, the same exceptions for a missing name or attribute. A closure is built per
node of the tree, so a call costs a few Python calls per node, not the evaluator's dispatch and bookkeeping.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Mapping
from typing import Any

from simpleeval import (
    DISALLOW_METHODS,
    MAX_STRING_LENGTH,
    AttributeDoesNotExist,
    FeatureNotAvailable,
    IterableTooLong,
    NameNotDefined,
)

Names = Mapping[str, Any]
Closure = Callable[[Names], Any]

DICT_ATTRIBUTES = frozenset(dir(dict))
"""Names that ``getattr`` finds on a dict: only for these does attribute access on a record not mean its key."""


def compile_tree(tree: ast.AST, text: str, functions: Mapping[str, Callable[..., Any]],
                 operators: Mapping[type, Callable[..., Any]]) -> Closure:
    """The closure of a checked expression tree (an ``ast.Expr`` or an expression node)."""
    return _Compiler(text, functions, operators).compile(tree)


class _Compiler:
    def __init__(self, text: str, functions: Mapping[str, Callable[..., Any]],
                 operators: Mapping[type, Callable[..., Any]]) -> None:
        self.text = text
        self.functions = functions
        self.operators = operators

    def compile(self, node: ast.AST) -> Closure:
        handler = getattr(self, f"_{type(node).__name__.lower()}", None)
        if handler is None:  # the checks refuse every other node; here for safety
            raise FeatureNotAvailable(f"Sorry, {type(node).__name__} is not available in this evaluator")
        result: Closure = handler(node)
        return result

    def _expr(self, node: ast.Expr) -> Closure:
        return self.compile(node.value)

    def _constant(self, node: ast.Constant) -> Closure:
        value: Any = node.value
        if hasattr(value, "__len__") and len(value) > MAX_STRING_LENGTH:
            raise IterableTooLong(f"Literal in statement is too long! ({len(value)}, when {MAX_STRING_LENGTH} "
                                  "is max)")
        return lambda names: value

    def _name(self, node: ast.Name) -> Closure:
        name, text = node.id, self.text

        def run(names: Names) -> Any:
            try:
                return names[name]
            except KeyError:
                raise NameNotDefined(name, text) from None
        return run

    def _unaryop(self, node: ast.UnaryOp) -> Closure:
        operator, operand = self.operators[type(node.op)], self.compile(node.operand)
        return lambda names: operator(operand(names))

    def _binop(self, node: ast.BinOp) -> Closure:
        operator, left, right = self.operators[type(node.op)], self.compile(node.left), self.compile(node.right)
        return lambda names: operator(left(names), right(names))

    def _boolop(self, node: ast.BoolOp) -> Closure:
        values = tuple(self.compile(v) for v in node.values)
        if isinstance(node.op, ast.And):
            def run_and(names: Names) -> Any:
                result: Any = False
                for value in values:
                    result = value(names)
                    if not result:
                        break
                return result
            return run_and

        def run_or(names: Names) -> Any:
            result: Any = False
            for value in values:
                result = value(names)
                if result:
                    break
            return result
        return run_or

    def _compare(self, node: ast.Compare) -> Closure:
        first = self.compile(node.left)
        steps = tuple((self.operators[type(op)], self.compile(c)) for op, c in zip(node.ops, node.comparators,
                                                                                  strict=True))
        if len(steps) == 1:
            [(operator, second)] = steps
            return lambda names: operator(first(names), second(names))

        def run(names: Names) -> Any:
            right = first(names)
            result: Any = True
            for operator, comparator in steps:
                if not result:
                    break
                left, right = right, comparator(names)
                result = operator(left, right)
            return result
        return run

    def _ifexp(self, node: ast.IfExp) -> Closure:
        test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
        return lambda names: body(names) if test(names) else orelse(names)

    def _call(self, node: ast.Call) -> Closure:
        if not isinstance(node.func, ast.Name):  # the checks allow calls by name only
            raise FeatureNotAvailable("only functions can be called by name")
        function = self.functions[node.func.id]
        args = tuple(self.compile(a) for a in node.args)
        keywords: tuple[tuple[Any, Closure], ...] = tuple((k.arg, self.compile(k.value)) for k in node.keywords)
        if not keywords:
            if len(args) == 1:
                [only] = args
                return lambda names: function(only(names))
            return lambda names: function(*(a(names) for a in args))
        return lambda names: function(*(a(names) for a in args), **{k: v(names) for k, v in keywords})

    def _attribute(self, node: ast.Attribute) -> Closure:
        attr, text, target = node.attr, self.text, self.compile(node.value)
        if attr.startswith(("_", "func_")):
            raise FeatureNotAvailable(f"Sorry, access to __attributes or func_ attributes is not available. ({attr})")
        if attr in DISALLOW_METHODS:
            def refused(names: Names) -> Any:
                raise FeatureNotAvailable(f"Sorry, this method is not available. ({attr})")
            return refused
        plain_key = attr not in DICT_ATTRIBUTES
        general = self._general_attribute(attr)
        if plain_key and isinstance(node.value, ast.Name) and node.value.id == "record":
            return self._record_field(attr, target, general)

        def run(names: Names) -> Any:
            obj = target(names)
            if plain_key and isinstance(obj, dict):  # a record or settings: getattr would find nothing
                try:
                    return obj[attr]
                except KeyError:
                    raise AttributeDoesNotExist(attr, text) from None
            return general(obj)
        return run

    @staticmethod
    def _record_field(attr: str, target: Closure, general: Callable[[Any], Any]) -> Closure:
        """``record.<field>``: the field's value, None when the record lacks it, whether the record is wrapped
        (``as_record``: a missing key is None) or a plain dict (so that an expression reading only fields of
        the record needs no wrapped copy of it, see ``Expression.reads_record_flat``)."""
        def run(names: Names) -> Any:
            obj = target(names)
            if isinstance(obj, dict):
                return obj.get(attr)
            return general(obj)
        return run

    def _general_attribute(self, attr: str) -> Callable[[Any], Any]:
        """``obj.<attr>`` for any object: the attribute, else the item, else ``AttributeDoesNotExist``."""
        text = self.text

        def of(obj: Any) -> Any:
            try:
                item = getattr(obj, attr)
            except (AttributeError, TypeError):
                try:
                    item = obj[attr]
                except (KeyError, TypeError):
                    raise AttributeDoesNotExist(attr, text) from None
            if isinstance(item, types.ModuleType):
                raise FeatureNotAvailable("Sorry, modules are not allowed in attribute access")
            return item
        return of

    def _subscript(self, node: ast.Subscript) -> Closure:
        container, key = self.compile(node.value), self.compile(node.slice)
        return lambda names: container(names)[key(names)]

    def _slice(self, node: ast.Slice) -> Closure:
        none: Closure = lambda names: None  # noqa: E731
        lower = self.compile(node.lower) if node.lower is not None else none
        upper = self.compile(node.upper) if node.upper is not None else none
        step = self.compile(node.step) if node.step is not None else none
        return lambda names: slice(lower(names), upper(names), step(names))

    def _joinedstr(self, node: ast.JoinedStr) -> Closure:
        parts = tuple(self.compile(v) for v in node.values)

        def run(names: Names) -> str:
            length = 0
            texts = []
            for part in parts:
                text = str(part(names))
                length += len(text)
                if length > MAX_STRING_LENGTH:
                    raise IterableTooLong("Sorry, I will not evaluate something this long.")
                texts.append(text)
            return "".join(texts)
        return run

    def _formattedvalue(self, node: ast.FormattedValue) -> Closure:
        value = self.compile(node.value)
        if not node.format_spec:
            return value
        spec = self.compile(node.format_spec)
        return lambda names: ("{:" + spec(names) + "}").format(value(names))

    def _list(self, node: ast.List) -> Closure:
        items = tuple(self.compile(e) for e in node.elts)
        return lambda names: [item(names) for item in items]

    def _tuple(self, node: ast.Tuple) -> Closure:
        items = tuple(self.compile(e) for e in node.elts)
        return lambda names: tuple(item(names) for item in items)

    def _set(self, node: ast.Set) -> Closure:
        items = tuple(self.compile(e) for e in node.elts)
        return lambda names: {item(names) for item in items}

    def _dict(self, node: ast.Dict) -> Closure:
        pairs = tuple((self.compile(k) if k is not None else None, self.compile(v))
                      for k, v in zip(node.keys, node.values, strict=True))

        def run(names: Names) -> dict[Any, Any]:
            result: dict[Any, Any] = {}
            for key, value in pairs:
                if key is None:  # {**other}
                    result.update(value(names))
                else:
                    result[key(names)] = value(names)
            return result
        return run
