"""The ``Diagnostic`` record and its location."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from mapsync.engine.diagnostics.codes import CODES


class Severity(StrEnum):
    """How bad a diagnostic is: errors make ``validate`` exit 1, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Location:
    """Where something is in the rule files: 1-based line and column, and the JSON path in the document."""

    file: str
    line: int = 0
    column: int = 0
    json_path: str = "$"

    def at(self, path: str) -> Location:
        return Location(self.file, self.line, self.column, path)


@dataclass(frozen=True)
class Excerpt:
    """The line of a value (an expression, an extractor) that a diagnostic points into, with the span it points
    at: 1-based columns in characters, ``end_column`` exclusive (0: one character). The formats draw it with a
    caret or underline below, or leave the marks out where they could not line up (``formats``)."""

    text: str
    column: int
    end_column: int = 0


@dataclass(frozen=True)
class Diagnostic:
    """One problem, with everything a consultant needs to find and fix it."""

    code: str
    message: str
    location: Location
    severity: Severity = Severity.ERROR
    hint: str = ""
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    excerpt: Excerpt | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"undocumented diagnostic code {self.code}")

    @property
    def title(self) -> str:
        return CODES[self.code].title

    @property
    def effective_hint(self) -> str:
        return self.hint or CODES[self.code].fix

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "path": self.location.json_path,
            "code": self.code,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "hint": self.effective_hint,
            "excerpt": None if self.excerpt is None else {
                "text": self.excerpt.text, "column": self.excerpt.column, "end_column": self.excerpt.end_column},
        }


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, line, column, code; exact duplicates removed."""
    unique = dict.fromkeys(diagnostics)
    return sorted(
        unique,
        key=lambda d: (d.location.file, d.location.line, d.location.column, d.code, d.message),
    )
