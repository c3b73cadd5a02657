"""Did-you-mean hints: the one place that decides how close a name must be to be proposed.

Every diagnostic that names something unknown (a property, a value, an entity, a field, a setting, a
mapping, a function, a name in an expression) proposes the closest known one the same way:
``did_you_mean(word, known)`` gives ``did you mean 'x'?``, or nothing when no known name is close enough.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6
"""How alike (difflib's ratio, 0 to 1) a known name must be to be proposed."""


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``word``, when one is close enough."""
    found = difflib.get_close_matches(word, sorted({k for k in known if isinstance(k, str)}), n=1, cutoff=CUTOFF)
    return found[0] if found else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``did you mean 'x'?`` for the closest known name, or an empty text."""
    match = closest(word, known)
    return f"did you mean {match!r}?" if match is not None else ""


def suggest(word: str, known: Iterable[str], listed_as: str = "") -> str:
    """``did you mean 'x'?``, followed, when ``listed_as`` is given, by every known name (``entities: a, b``)."""
    names = sorted({k for k in known if isinstance(k, str)})
    listing = f"{listed_as}: " + ", ".join(names) if listed_as and names else ""
    return " ".join(part for part in (did_you_mean(word, names), listing) if part)
