"""Behaviours of the real Fortnox API that its documentation leaves out, each switchable
(``FortnoxRules``) because how far they reach is NOT CONFIRMED; they come from public issue threads
of Fortnox client libraries (docs/connectors.md, "Fortnox").

- ``order_invoice_rows_locked``: the rows of an invoice made from an order (``OrderReference`` set)
  cannot be updated: a ``PUT`` that sends ``InvoiceRows`` answers 400 code 2999009; the invoice's
  other fields stay writable;
- ``lastmodified_minutes``: Fortnox keeps ``lastmodified`` to the minute: the seconds of a record's
  modification time and of the ``lastmodified`` parameter are dropped before comparing (still
  inclusive), so a record changed at 12:00:59 is listed for ``lastmodified=2024-03-01 12:00``;
- ``lastmodified_refused``: the entities whose list refuses the ``lastmodified`` parameter (400
  code 2000588, as for a malformed value); none by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ORDER_INVOICE_ROWS_MESSAGE = "Fakturarader kan inte ändras på en faktura som skapats från en order."


@dataclass(frozen=True)
class FortnoxRules:
    order_invoice_rows_locked: bool = True
    lastmodified_minutes: bool = True
    lastmodified_refused: frozenset[str] = field(default_factory=frozenset)


def to_minute(rules: FortnoxRules, instant: datetime) -> datetime:
    """``instant`` at the precision the server keeps ``lastmodified`` at."""
    return instant.replace(second=0, microsecond=0) if rules.lastmodified_minutes else instant
