"""Line functions for rule expressions: ``first_line`` and ``other_lines``, to split one multi-line
text field (webCRM's ``OrganisationAddress`` or an address custom field) over an ERP's line fields
(Fortnox ``Address1``/``Address2``) without loss: ``first_line`` + newline + ``other_lines`` gives the
text back (docs/decisions/0013-address-lines.md)."""

from __future__ import annotations

from typing import Any


def first_line(value: Any) -> str | None:
    """The text up to the first line break; None stays None."""
    if value is None:
        return None
    return str(value).replace("\r\n", "\n").split("\n", 1)[0]


def other_lines(value: Any) -> str | None:
    """The text after the first line break ('' when there is none); None stays None."""
    if value is None:
        return None
    parts = str(value).replace("\r\n", "\n").split("\n", 1)
    return parts[1] if len(parts) > 1 else ""
