"""Field paths and values as the clients handle them in records of the product's own field names.

- ``top_field``: the record key a field path of the rules lives under (``read_changes`` fetches the
  full record when a list item lacks one of them);
- ``same_value``: the exact comparison ``find`` applies on the client after a server-side search.
"""

from __future__ import annotations

from typing import Any


def top_field(path: str) -> str:
    """``DefaultDeliveryTypes.Invoice`` -> ``DefaultDeliveryTypes``; ``OrderRows[0]`` -> ``OrderRows``."""
    for sep in (".", "["):
        path = path.split(sep, 1)[0]
    return path


def same_value(a: Any, b: Any) -> bool:
    """Exact equality, treating ``"1"`` and ``1`` alike (ids and numbers may come as strings) and
    ignoring spaces around strings; ``None`` and booleans only equal themselves."""
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return str(a).strip() == str(b).strip()
    return bool(a == b)
