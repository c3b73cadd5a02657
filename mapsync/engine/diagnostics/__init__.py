"""Diagnostics: what validation found, where, and how to fix it.

``Diagnostic`` is one problem at a file, line, column and JSON path, with a stable code from
``codes.CODES`` (each documented in ``docs/diagnostics.md``). ``formats`` renders a list of them as
text, JSON, GitHub annotations or JUnit XML.
"""

from mapsync.engine.diagnostics.codes import CODES, CodeInfo
from mapsync.engine.diagnostics.diagnostic import Diagnostic, Excerpt, Location, Severity, sort_diagnostics
from mapsync.engine.diagnostics.formats import FORMATS, render

__all__ = [
    "CODES",
    "FORMATS",
    "CodeInfo",
    "Diagnostic",
    "Excerpt",
    "Location",
    "Severity",
    "render",
    "sort_diagnostics",
]
