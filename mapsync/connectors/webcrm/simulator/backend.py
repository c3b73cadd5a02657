"""Business rules of the webCRM simulator: create (POST), full replace (PUT), delete, conversions.

Choices where the real behaviour is NOT CONFIRMED:

- ``PUT`` **replaces the whole DTO** (fields left out get their defaults, as ASP.NET binding of a
  full DTO does); only the id and the ``*CreatedAt/By``, ``*UpdatedAt/By`` fields are kept by the
  server. Clients must GET, merge and PUT the full record;
- ``POST`` returns the new id for every entity, Organisations included (configurable off);
- persons, deliveries and opportunities must point at an existing organisation; a quotation line
  at an existing delivery or opportunity (``QuotationLineOpportunityId``); otherwise 400;
- ``QuotationLineLinkedDataId`` (write-only) must name a catalogue item; its Data1..9 and price are
  copied onto the line where the line leaves them empty; ``PersonName`` is derived from the parts;
- the write rules of ``mapsync.connectors.webcrm.simulator.rules`` (a last name, non-empty catalogue
  values, a person's organisation fixed, duplicate delivery numbers locked, overlapping creates
  failing), each switchable by ``WebcrmRules``;
- ``ConvertToDelivery`` creates a new delivery (with copies of the opportunity's lines) and
  returns its id; the opportunity stays.
"""

from __future__ import annotations

from typing import Any

from mapsync.connectors.webcrm.simulator.dtos import (
    PREFIXES,
    ValidationError,
    bind,
    default_record,
    fields,
    format_timestamp,
    id_field,
    system_fields,
    write_only_fields,
)
from mapsync.connectors.webcrm.simulator.rules import (
    BusinessRuleError,
    CreateGate,
    WebcrmRules,
    check_create,
    check_replace,
)
from mapsync.connectors.webcrm.simulator.store import WebcrmStore

Record = dict[str, Any]
SYSTEM_USER = "API"


class NotFound(Exception):
    """The record does not exist (HTTP 404)."""

    def __init__(self, entity: str, record_id: Any) -> None:
        super().__init__(f"{PREFIXES[entity]} with id {record_id} was not found")


BusinessError = BusinessRuleError  # a rule refused the write (HTTP 400)


def _bind_all(entity: str, given: dict[str, Any], target: Record) -> tuple[Record, list[ValidationError]]:
    """Bind every known field of ``given`` into ``target``; collect the write-only ones separately."""
    problems: list[ValidationError] = []
    specs = fields(entity)
    extra_specs = write_only_fields(entity)
    skip = system_fields(entity)
    extra: Record = {}
    for name, value in given.items():
        spec = specs.get(name) or extra_specs.get(name)
        if spec is None or name in skip:
            continue
        try:
            bound = bind(name, spec, value)
        except ValidationError as exc:
            problems.append(exc)
            continue
        if name in extra_specs:
            extra[name] = bound
        else:
            target[name] = bound
    return extra, problems


class WebcrmBackend:
    """The operations the HTTP handlers call."""

    def __init__(self, store: WebcrmStore, rules: WebcrmRules | None = None) -> None:
        self.store = store
        self.rules = rules or WebcrmRules()
        self.gate = CreateGate(self.rules)

    def get(self, entity: str, record_id: int) -> Record:
        record = self.store.get(entity, record_id)
        if record is None:
            raise NotFound(entity, record_id)
        return record

    def create(self, entity: str, given: Any) -> int:
        """A ``POST`` (``DeadlockError`` when it overlaps another create and loses)."""
        with self.gate.creating():
            return self._create(entity, given)

    def _create(self, entity: str, given: Any) -> int:
        with self.store.lock:
            record = default_record(entity)
            extra = self._write(entity, record, given)
            check_create(self.rules, entity, record)
            new_id = self.store.next_id(entity)
            record[id_field(entity)] = new_id
            self._stamp(entity, record, created=True)
            self.store.extra[entity][str(new_id)] = extra
            self.store.put(entity, new_id, record, self.store.now())
            self.store.save()
            return new_id

    def replace(self, entity: str, record_id: int, given: Any) -> None:
        with self.store.lock:
            current = self.get(entity, record_id)
            record = default_record(entity)
            for name in system_fields(entity):
                if name in current:
                    record[name] = current[name]
            extra = self._write(entity, record, given)
            deliveries = self.store.all("delivery") if entity == "delivery" else []
            check_replace(self.rules, entity, current, record, deliveries)
            self._stamp(entity, record, created=False)
            self.store.extra[entity][str(record_id)] = extra
            self.store.put(entity, record_id, record, self.store.now())
            self.store.save()

    def delete(self, entity: str, record_id: int) -> None:
        with self.store.lock:
            if not self.store.delete(entity, record_id):
                raise NotFound(entity, record_id)
            self.store.save()

    def delete_all(self, entity: str) -> None:
        with self.store.lock:
            for key in list(self.store.records[entity]):
                self.store.delete(entity, key)
            self.store.save()

    def convert_to_delivery(self, opportunity_id: int) -> int:
        with self.store.lock:
            opp = self.get("opportunity", opportunity_id)
            delivery: Record = {}
            for name in fields("delivery"):
                source = "Opportunity" + name[len("Delivery") :]
                if source in opp and name not in system_fields("delivery"):
                    delivery[name] = opp[source]
            delivery["DeliveryStatus"] = "New"
            delivery_id = self._create("delivery", delivery)
            for line in self.store.all("quotation_line"):
                if line["QuotationLineOpportunityId"] == opportunity_id:
                    line["QuotationLineOpportunityId"] = delivery_id
                    self._create("quotation_line", line)
            return delivery_id

    # ----------------------------------------------------------------- internals
    def _write(self, entity: str, record: Record, given: Any) -> Record:
        if not isinstance(given, dict):
            raise ValidationError(PREFIXES[entity], "A JSON object is required.")
        extra, problems = _bind_all(entity, given, record)
        if problems:
            raise problems[0]
        self._check_links(entity, record, extra)
        return extra

    def _stamp(self, entity: str, record: Record, *, created: bool) -> None:
        prefix = PREFIXES[entity]
        now = format_timestamp(self.store.now())
        specs = fields(entity)
        if created and f"{prefix}CreatedAt" in specs:
            record[f"{prefix}CreatedAt"] = now
            record[f"{prefix}CreatedBy"] = SYSTEM_USER
        if f"{prefix}UpdatedAt" in specs:
            record[f"{prefix}UpdatedAt"] = now
            record[f"{prefix}UpdatedBy"] = SYSTEM_USER

    def _require(self, entity: str, record_id: Any, message: str) -> None:
        if not record_id or self.store.get(entity, record_id) is None:
            raise BusinessError(message)

    def _check_links(self, entity: str, record: Record, extra: Record) -> None:
        if entity == "person":
            self._require(
                "organisation", record["PersonOrganisationId"], "PersonOrganisationId must name an organisation"
            )
            if not record.get("PersonName"):
                parts = [record.get(p) for p in ("PersonFirstName", "PersonMiddleName", "PersonLastName")]
                record["PersonName"] = " ".join(p for p in parts if p) or None
        elif entity == "delivery":
            self._require(
                "organisation", record["DeliveryOrganisationId"], "DeliveryOrganisationId must name an organisation"
            )
        elif entity == "opportunity":
            self._require(
                "organisation",
                record["OpportunityOrganisationId"],
                "OpportunityOrganisationId must name an organisation",
            )
        elif entity == "quotation_line":
            deal = record["QuotationLineOpportunityId"]
            if not deal or (self.store.get("delivery", deal) is None and self.store.get("opportunity", deal) is None):
                raise BusinessError("QuotationLineOpportunityId must name a delivery or an opportunity")
            item_id = extra.get("QuotationLineLinkedDataId")
            if item_id:
                item = self.store.get("catalogue_item", item_id)
                if item is None:
                    raise BusinessError("QuotationLineLinkedDataId must name a catalogue item")
                for n in range(1, 10):
                    if not record.get(f"QuotationLineData{n}"):
                        record[f"QuotationLineData{n}"] = item.get(f"QuotationLineLinkedDataItemData{n}")
                if not record.get("QuotationLinePrice"):
                    record["QuotationLinePrice"] = item.get("QuotationLineLinkedDataItemPrice") or 0
                if not record.get("QuotationLineCostPrice"):
                    record["QuotationLineCostPrice"] = item.get("QuotationLineLinkedDataItemCostPrice") or 0
