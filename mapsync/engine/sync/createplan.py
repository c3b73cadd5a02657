"""The values a create sends, compiled: a mapping's field rules turned once into one step per rule.

``compile_create(bound, target)`` returns a ``CreatePlan``: for a record of the other side, the nested object a
create on ``target`` sends, exactly as ``fieldmerge.values_for_create`` followed by ``nested`` makes it (the same
reads, value maps, transforms, normalisation, defaults, length checks, held values and rule errors), without
their per-record work: each rule's reader, normaliser, value map, transform, default and writer are looked up
and specialised when the plan is made. A plain field is read with one ``dict.get``; a JMESPath extractor only
where the rule has one; a transform is its compiled closure; a constant and a default are normalised once.
The steps are then joined into one generated Python function (``_generate``): the commonest rule, a text field
copied to a text field, is written out inline in it (no call per field), the others are called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mapsync.engine.expressions import FAILURES, Expression, ExpressionError
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset import Side, UnmappedPolicy
from mapsync.engine.sync.bound import BoundRule, RuleGroup
from mapsync.engine.sync.fieldmerge import HeldField, RuleError, UnmappedValue, _check_length, _default
from mapsync.engine.sync.readers import normaliser
from mapsync.engine.sync.values import normalise

Record = dict[str, Any]
Step = Callable[[Record, Any, Record, list[HeldField]], None]
"""One rule's part of a create: (source record, the record wrapped for expressions or None when no transform
reads it, output, held) -> None."""


def _writer(br: BoundRule, target: Side) -> Callable[[Record, Any], None]:
    writer = br.rule.side(target).writer  # type: ignore[union-attr]
    assert writer is not None
    if len(writer.parts) == 1:
        name = writer.name

        def put(out: Record, value: Any) -> None:
            out[name] = value
        return put
    return writer.set


def _step(br: BoundRule, target: Side, settings: dict[str, Any]) -> Step | None:
    """The compiled part of ``values_for_create`` for one rule (None: the rule writes nothing to ``target``)."""
    rule = br.rule
    if not br.writes[target]:
        return None
    put = _writer(br, target)
    limit = br.max_length[target]
    default = _default(br, target) if rule.default is not MISSING else MISSING
    has_default = default is not MISSING and default is not None

    if rule.constant is not MISSING:
        constant = normalise(rule.constant, br.type(target))
        value = default if constant is MISSING or constant is None else constant
        if value is MISSING or value is None:
            return None
        if limit and isinstance(value, str) and len(value) > limit:
            return lambda record, wrapped, out, held: _check_length(br, target, value)  # a rule error, per record
        return lambda record, wrapped, out, held: put(out, value)

    vmap = rule.value_map_to(target)
    if vmap is None and rule.transform(target) is None:
        copy = _plain_copy(br, target, put, limit, default)
        if copy is not None:
            return copy
    read = br.readers[target.other]
    norm = normaliser(br.type(target))
    passes = rule.on_unmapped is UnmappedPolicy.PASS
    quarantines = rule.on_unmapped is UnmappedPolicy.QUARANTINE
    expr = rule.transform(target)
    evaluate = expr.evaluate if expr is not None else None
    key = rule.key
    fallback = default if has_default else None

    def step(record: Record, wrapped: Any, out: Record, held: list[HeldField]) -> None:
        value = read(record)
        if value is not MISSING:
            if vmap is not None and value is not None:
                if value in vmap:
                    value = vmap[value]
                elif str(value) in vmap:
                    value = vmap[str(value)]
                elif not passes:
                    problem = UnmappedValue(f"rule {key}: value {value!r} is not in the value map "
                                            f"({', '.join(map(repr, vmap))})")
                    if quarantines:
                        raise problem
                    held.append(HeldField(key, target, f"{problem}; not written to {target.value} until the map "
                                                       "covers it"))
                    return  # held back: no default in its place
            if evaluate is not None:
                try:
                    value = evaluate({"value": value, "record": record if wrapped is None else wrapped,
                                      "settings": settings})
                except ExpressionError as exc:
                    raise RuleError(f"rule {key}: {exc}") from exc
            value = norm(value)
        if value is MISSING or value is None:
            if not has_default:
                return
            value = default
        if limit and isinstance(value, str) and len(value) > limit:
            _check_length(br, target, value)  # raises the rule error
        put(out, value)

    inline = _inline_text(br, target, vmap, expr, fallback, limit)
    if inline is not None:
        step.inline = inline  # type: ignore[attr-defined]
    return step


def _inline_text(br: BoundRule, target: Side, vmap: Any, expr: Expression | None, fallback: Any,
                 limit: int | None) -> _Mapped | _Called | None:
    """What ``_generate`` writes inline for a text field read plainly and written to one field, through a
    value map or one function of the value (``country_code(value)``): the usual case (a non-blank text) in
    the generated function, anything else by the step. None for any other rule."""
    fs = br.rule.side(target.other)
    writer = br.rule.side(target).writer  # type: ignore[union-attr]
    if (fs is None or not isinstance(fs.reader, FieldPath) or len(fs.reader.parts) != 1
            or br.type(target.other) not in ("string", None) or writer is None or len(writer.parts) != 1):
        return None
    source, field = fs.reader.name, writer.name
    target_norm = normaliser(br.type(target))

    def too_long(value: Any) -> None:
        _check_length(br, target, value)

    if vmap is not None and expr is None:
        return _Mapped(source, field, _ready(vmap, target_norm, limit))
    function = expr.value_function() if expr is not None and vmap is None else None
    if function is None or expr is None:
        return None
    key, failure = br.rule.key, expr.failure

    def failed(exc: BaseException) -> None:
        raise RuleError(f"rule {key}: {failure(exc)}") from exc

    return _Called(source, field, fallback, limit or 0, target_norm, too_long, function, failed,
                   br.type(target) in ("string", None))


def _ready(vmap: Any, target_norm: Callable[[Any], Any], limit: int | None) -> dict[str, Any]:
    """The value map's non-blank text keys whose value, normalised for the target, is written as it is: not
    empty (no default in its place) and within the length limit. Other keys are left to the step."""
    ready = {}
    for key, value in vmap.items():
        if key.__class__ is not str or not key or key.isspace():
            continue
        try:
            written = target_norm(value)
        except (TypeError, ValueError, ArithmeticError):
            continue
        if written is None or (limit and isinstance(written, str) and len(written) > limit):
            continue
        ready[key] = written
    return ready


def _plain_copy(br: BoundRule, target: Side, put: Callable[[Record, Any], None], limit: int | None,
                default: Any) -> Step | None:
    """The step of the commonest rule, a text field copied to a text field (no map, no transform), in one call:
    what ``read``, ``convert`` and the default amount to for it. None for any other rule."""
    fs = br.rule.side(target.other)
    string = ("string", None)
    if (fs is None or not isinstance(fs.reader, FieldPath) or len(fs.reader.parts) != 1
            or br.type(target.other) not in string or br.type(target) not in string):
        return None
    name = fs.reader.name
    norm = normaliser(br.type(target.other))  # then the target's: the same or no-op for a text
    target_norm = normaliser(br.type(target))
    fallback = None if default is MISSING else default

    def copy(record: Record, wrapped: Any, out: Record, held: list[HeldField]) -> None:
        value = record.get(name)
        if value.__class__ is str:
            if not value or value.isspace():
                value = fallback
        elif value is not None:
            value = target_norm(norm(value))
        else:
            value = fallback
        if value is None:
            return
        if limit and isinstance(value, str) and len(value) > limit:
            _check_length(br, target, value)  # raises the rule error
        if field is None:
            put(out, value)
        else:
            out[field] = value

    writer = br.rule.side(target).writer  # type: ignore[union-attr]
    field = writer.name if writer is not None and len(writer.parts) == 1 else None
    if field is not None:  # what _generate writes inline for this step
        copy.inline = _Inline(name, field, fallback, limit or 0, target_norm,  # type: ignore[attr-defined]
                              lambda value: _check_length(br, target, value), norm)
    return copy


@dataclass(frozen=True)
class _Written:
    """What the generated function needs to write a value read from ``source`` to ``field``: the default in
    place of an empty value, the target's normaliser, the length limit (0: none) and its rule error."""

    source: str
    field: str
    fallback: Any
    limit: int
    target_norm: Callable[[Any], Any]
    too_long: Callable[[Any], None]


@dataclass(frozen=True)
class _Inline(_Written):
    """A plain copy's parts: a text read from ``source`` (``norm``: the source's normaliser) written to ``field``."""

    norm: Callable[[Any], Any]


@dataclass(frozen=True)
class _Mapped:
    """A text read from ``source`` that is a key of ``ready`` (a value map's keys with their values ready to
    write, see ``_ready``): that value written to ``field``."""

    source: str
    field: str
    ready: dict[str, Any]


@dataclass(frozen=True)
class _Called(_Written):
    """A text read from ``source``, given to ``function`` (its failure to ``failed``, which raises the rule
    error), written to ``field``."""

    function: Callable[[Any], Any]
    failed: Callable[[BaseException], None]
    text_target: bool  # the target's normaliser keeps a non-blank text as it is


def _write_lines(i: int, limit: int, indent: str) -> list[str]:
    """Generated lines that write ``v`` (normalised) to field ``K{i}``: the default when empty, the length
    checked."""
    lines = [f"{indent}if v is None:", f"{indent}    v = F{i}", f"{indent}if v is not None:"]
    if limit:
        lines += [f"{indent}    if isinstance(v, str) and len(v) > L{i}:", f"{indent}        C{i}(v)"]
    return [*lines, f"{indent}    out[K{i}] = v"]


def _generate(steps: tuple[Step, ...]) -> Callable[[Record, Any, list[HeldField]], Record]:
    """One Python function for the whole plan: plain copies written out inline, so is the usual case of a
    value map or a function of the value; the other steps (and the unusual cases) called.

    The source holds no text of the rule files: every field name, default and helper is a global of the
    function's own namespace (``N3``, ``F3``, ...), so nothing a rule file says can become code."""
    namespace: dict[str, Any] = {"__builtins__": {"isinstance": isinstance, "str": str, "len": len},
                                 "FAILURES": FAILURES}
    lines = ["def values(record, wrapped, held):", "    out = {}", "    get = record.get"]
    for i, step in enumerate(steps):
        inline: _Inline | _Mapped | _Called | None = getattr(step, "inline", None)
        if inline is None:
            namespace[f"S{i}"] = step
            lines.append(f"    S{i}(record, wrapped, out, held)")
            continue
        if isinstance(inline, _Mapped | _Called):
            namespace.update({f"S{i}": step, f"N{i}": inline.source, f"K{i}": inline.field})
            if isinstance(inline, _Called):
                namespace.update({f"F{i}": inline.fallback, f"B{i}": inline.target_norm, f"C{i}": inline.too_long,
                                  f"L{i}": inline.limit})
            lines += [f"    v = get(N{i})"]
            if isinstance(inline, _Mapped):  # M: the texts whose mapped value is written as it is
                namespace[f"M{i}"] = inline.ready
                lines += [f"    if v.__class__ is str and v in M{i}:", f"        out[K{i}] = M{i}[v]"]
            else:
                namespace.update({f"U{i}": inline.function, f"X{i}": inline.failed})
                lines += ["    if v.__class__ is str and v and not v.isspace():",
                          "        try:",
                          f"            v = U{i}(v)",
                          "        except FAILURES as exc:",
                          f"            X{i}(exc)",
                          # a text target keeps a non-blank text as it is: its normaliser only for the rest
                          ("        if v.__class__ is not str or not v or v.isspace():" if inline.text_target
                           else "        if True:"),
                          f"            v = B{i}(v)",
                          *_write_lines(i, inline.limit, "        ")]
            lines += ["    else:", f"        S{i}(record, wrapped, out, held)"]
            continue
        namespace.update({f"N{i}": inline.source, f"K{i}": inline.field, f"F{i}": inline.fallback,
                          f"A{i}": inline.norm, f"B{i}": inline.target_norm, f"C{i}": inline.too_long,
                          f"L{i}": inline.limit})
        lines += [f"    v = get(N{i})",
                  "    if v.__class__ is str and v and not v.isspace():"]  # the usual: a text, kept as it is
        if inline.limit:
            lines += [f"        if len(v) > L{i}:", f"            C{i}(v)"]
        lines += [f"        out[K{i}] = v",
                  "    else:",
                  "        if v.__class__ is str:",
                  f"            v = F{i}",
                  "        elif v is not None:",
                  f"            v = B{i}(A{i}(v))",
                  "        else:",
                  f"            v = F{i}",
                  "        if v is not None:"]
        if inline.limit:
            lines += [f"            if isinstance(v, str) and len(v) > L{i}:", f"                C{i}(v)"]
        lines.append(f"            out[K{i}] = v")
    lines.append("    return out")
    exec(compile("\n".join(lines), "<mapsync create plan>", "exec"), namespace)
    function: Callable[[Record, Any, list[HeldField]], Record] = namespace["values"]
    return function


@dataclass(frozen=True)
class CreatePlan:
    """A mapping's create values for ``target``, compiled; ``values(record, wrapped, held)`` per record."""

    target: Side
    steps: tuple[Step, ...]
    uses_record: bool  # some transform needs ``as_record(record)`` (more than its fields): the caller wraps it once
    values: Callable[[Record, Any, list[HeldField]], Record]
    """``values(record, wrapped, held)``: the nested object a create sends for ``record`` (``wrapped``:
    ``as_record(record)``, or None when ``uses_record`` is false). Raises ``RuleError`` as ``values_for_create``
    does. Generated from the steps (``_generate``)."""


def compile_create(bound: RuleGroup, target: Side, settings: dict[str, Any]) -> CreatePlan:
    """The plan of ``values_for_create(bound, target, record, settings, held)`` + ``nested``; ``settings``
    thawed, as the transforms see them."""
    steps = tuple(s for s in (_step(br, target, settings) for br in bound.rules) if s is not None)
    transforms = [br.rule.transform(target) for br in bound.rules if br.writes[target]]
    uses_record = any(t is not None and not t.reads_record_flat for t in transforms)
    return CreatePlan(target, steps, uses_record, _generate(steps))
