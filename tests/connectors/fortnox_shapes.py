"""Shape comparison of JSON documents: same keys at every level and the same JSON type per key.

Lists of objects are compared item by item against the union of the recorded items: every item must
have exactly the recorded keys, and each value a type seen for that key in the recording.
"""

from __future__ import annotations

from typing import Any


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    if json_type(expected) != json_type(actual):
        return [f"{path}: expected {json_type(expected)}, got {json_type(actual)} ({actual!r})"]
    if isinstance(expected, dict):
        problems = []
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing:
            problems.append(f"{path}: missing keys {missing}")
        if extra:
            problems.append(f"{path}: extra keys {extra}")
        for key in expected:
            if key in actual:
                problems.extend(shape_mismatches(expected[key], actual[key], f"{path}.{key}"))
        return problems
    if isinstance(expected, list) and expected and actual:
        return [p for i, item in enumerate(actual) for p in _item_mismatches(expected, item, f"{path}[{i}]")]
    return []


def _item_mismatches(recorded: list[Any], item: Any, path: str) -> list[str]:
    if not all(isinstance(r, dict) for r in recorded) or not isinstance(item, dict):
        return shape_mismatches(recorded[0], item, path)
    keys = list(recorded[0])
    problems = []
    if set(item) != set(keys):
        problems.append(f"{path}: keys differ: missing {set(keys) - set(item)}, extra {set(item) - set(keys)}")
    for key in keys:
        if key not in item:
            continue
        seen = [r[key] for r in recorded if key in r]
        allowed = {json_type(v) for v in seen}
        if json_type(item[key]) not in allowed:
            problems.append(f"{path}.{key}: expected one of {sorted(allowed)}, got {json_type(item[key])}")
            continue
        example = next((v for v in seen if json_type(v) == json_type(item[key])), None)
        if isinstance(example, dict | list):
            problems.extend(shape_mismatches(example, item[key], f"{path}.{key}"))
    return problems
