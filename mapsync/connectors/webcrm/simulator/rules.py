"""Write rules of the real webCRM API that the DTO schema does not show, each switchable
(``WebcrmRules``) because the vendor documents none of them: they come from webCRM's own ERP
integration (webCRMdotcom/ErpIntegrations, 2018), which works around each one.

- ``require_last_name``: ``POST /Persons`` without a ``PersonLastName`` is refused (400);
- ``non_empty_catalogue_data``: a catalogue item (LinkedData) whose ``...Data1..9`` field is sent as
  an empty or blank string is refused (400); ``null`` leaves the slot unused and is accepted;
- ``person_organisation_fixed``: ``PUT /Persons/{id}`` cannot change ``PersonOrganisationId`` (400;
  there is no ``Move`` for persons, only for deliveries and opportunities);
- ``duplicate_delivery_numbers_lock``: when two deliveries share a ``DeliveryNumber`` (compared
  case-insensitively, trailing blanks ignored), both are locked against API edits (``PUT`` answers
  400 naming the other delivery);
- ``concurrent_create_failure``: the chance (0..1) that a ``POST`` which starts while another create of
  the same system is running fails with HTTP 500 and SQL Server's deadlock message (nothing is
  created; "Rerun the transaction"). ``create_hold`` seconds keeps each create running longer, so
  tests can make creates overlap.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

DEADLOCK_MESSAGE = (
    "Transaction (Process ID 61) was deadlocked on lock resources with another process and has been "
    "chosen as the deadlock victim. Rerun the transaction."
)


class BusinessRuleError(Exception):
    """A webCRM rule refused the write (HTTP 400)."""


class DeadlockError(Exception):
    """A create that overlapped another lost (HTTP 500); nothing was written."""

    def __init__(self) -> None:
        super().__init__(DEADLOCK_MESSAGE)


@dataclass(frozen=True)
class WebcrmRules:
    require_last_name: bool = True
    non_empty_catalogue_data: bool = True
    person_organisation_fixed: bool = True
    duplicate_delivery_numbers_lock: bool = True
    concurrent_create_failure: float = 1.0
    create_hold: float = 0.0


def check_create(rules: WebcrmRules, entity: str, record: dict[str, Any]) -> None:
    if entity == "person" and rules.require_last_name and not str(record.get("PersonLastName") or "").strip():
        raise BusinessRuleError("PersonLastName is required")
    _check_catalogue(rules, entity, record)


def check_replace(
    rules: WebcrmRules, entity: str, current: dict[str, Any], record: dict[str, Any], deliveries: list[dict[str, Any]]
) -> None:
    _check_catalogue(rules, entity, record)
    if (
        entity == "person"
        and rules.person_organisation_fixed
        and record.get("PersonOrganisationId") != current.get("PersonOrganisationId")
    ):
        raise BusinessRuleError(
            f"PersonOrganisationId cannot be changed (person {current.get('PersonId')} belongs to organisation "
            f"{current.get('PersonOrganisationId')})"
        )
    if entity == "delivery" and rules.duplicate_delivery_numbers_lock:
        number = _number(current)
        others = [d for d in deliveries if d["DeliveryId"] != current["DeliveryId"]]
        twins = [d["DeliveryId"] for d in others if number and _number(d) == number]
        if twins:
            raise BusinessRuleError(
                f"Delivery {current['DeliveryId']} is locked: its DeliveryNumber '{current['DeliveryNumber']}' "
                f"is also used by delivery {twins[0]}"
            )


def _number(delivery: dict[str, Any]) -> str:
    """The delivery number as SQL Server's default collation compares it (case and trailing blanks ignored)."""
    return str(delivery.get("DeliveryNumber") or "").strip().casefold()


def _check_catalogue(rules: WebcrmRules, entity: str, record: dict[str, Any]) -> None:
    if entity != "catalogue_item" or not rules.non_empty_catalogue_data:
        return
    for n in range(1, 10):
        value = record.get(f"QuotationLineLinkedDataItemData{n}")
        if value is not None and not str(value).strip():
            raise BusinessRuleError(f"QuotationLineLinkedDataItemData{n} cannot be empty")


class CreateGate:
    """Counts the creates running at once in one system and makes an overlapping one fail."""

    def __init__(self, rules: WebcrmRules, rand: random.Random | None = None) -> None:
        self.rules = rules
        self._running = 0
        self._lock = threading.Lock()
        self._rand = rand or random.Random()

    @contextmanager
    def creating(self) -> Iterator[None]:
        with self._lock:
            overlaps = self._running > 0
            self._running += 1
        try:
            if overlaps and self._rand.random() < self.rules.concurrent_create_failure:
                raise DeadlockError()
            if self.rules.create_hold:
                threading.Event().wait(self.rules.create_hold)
            yield
        finally:
            with self._lock:
                self._running -= 1
