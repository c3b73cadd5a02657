"""Business rules of the Visma.net simulator: create, update, delete, actions, lines and totals.

Handlers pass the raw (value-wrapped) request body and get back the stored DTO; errors are raised as
``ApiError``. Choices where the real behaviour is NOT CONFIRMED:

- customers get the next number of a series starting at ``10000`` when ``number`` is omitted; a
  number in use -> 400; a PUT whose ``number`` differs from the path -> 400 (``changeCustomerCd``);
  the customer class (default ``1``) fills credit terms, currency and VAT zone that were not given
  (``overrideWithClassValues: true`` makes the class win over given values);
- sales orders and invoices are numbered ``000001``, ``000002``... per resource; lines get a number
  from a per-document counter (never reused after a delete); a line ``Update``/``Delete`` names the
  line with ``lineNbr`` (orders) or ``lineNumber`` (invoices); a line without ``operation`` is an Insert;
- a new invoice is on hold (status ``Hold``) unless ``hold: false`` (``Balanced``); ``PUT`` and
  ``DELETE`` are refused with 400 ``{"message": "VismaId: ..."}`` once the status is not Hold/Balanced;
  ``action/release`` needs ``Balanced`` (on hold -> 400) and makes it ``Open``;
- sales orders in status Cancelled, Completed, Invoiced or Voided refuse PUT (400);
  ``cancelSalesOrder`` -> ``Cancelled`` (``canceled: true``), ``reopenSalesOrder`` -> ``Open``;
- ``If-Match`` (quotes and ``W/`` ignored, ``*`` matches anything) that differs from the current row
  version -> 412; no ``If-Match`` -> last writer wins;
- VAT: 25 % / 15 % / 0 % by VAT code (``taxCategory`` on order lines, ``vatCode`` on invoice lines);
  amounts in the document currency; the ``...InBaseCurrency`` (orders) and ``...InCurrency``
  (invoices: "in your default currency", sic) fields use a fixed exchange-rate table to NOK.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Any

from mapsync.connectors.vismanet.simulator.errors import (
    DUPLICATE,
    ApiError,
    document_error,
    ipp,
    not_found,
)
from mapsync.connectors.vismanet.simulator.listing import select
from mapsync.connectors.vismanet.simulator.schema import (
    BASE_CURRENCY,
    CLOSED_ORDER,
    CREDIT_TERMS,
    CUSTOMER_CLASSES,
    EDITABLE_INVOICE,
    EXCHANGE_RATES,
    LINE_SPECS,
    LINE_TEMPLATES,
    SPECS,
    STOCK_TYPES,
    TABLES,
    TEMPLATES,
    VAT_ZONES,
    ref_value,
    vat_rate,
)
from mapsync.connectors.vismanet.simulator.store import VismanetStore
from mapsync.connectors.vismanet.simulator.wire import Body, apply_body, line_fields, line_operation, unwrap

Record = dict[str, Any]

ID_FIELDS = {
    "customer": "number",
    "contact": "contactId",
    "inventory": "inventoryNumber",
    "salesorder": "orderNo",
    "customerinvoice": "referenceNumber",
}
TITLES = {
    "customer": "Customer",
    "contact": "Contact",
    "inventory": "Inventory item",
    "salesorder": "Sales order",
    "customerinvoice": "Customer invoice",
}
DOCUMENTS = frozenset({"salesorder", "customerinvoice"})


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def _etag_matches(if_match: str, version: str | None) -> bool:
    for part in if_match.split(","):
        tag = part.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == version:
            return True
    return False


class VismanetBackend:
    """The operations the HTTP handlers call; also a ``wire.Resolver`` for reference ids."""

    def __init__(self, store: VismanetStore) -> None:
        self.store = store

    # ----------------------------------------------------------------- Resolver
    def ref(self, table: str, key: str) -> Record | None:
        if table in ("customer", "customerShort"):
            found = self.store.find_key("customer", key)
            if found is None:
                return None
            customer = self.store.records["customer"][found]
            short = {"number": found, "name": customer.get("name")}
            return short if table == "customerShort" else {"internalId": customer.get("internalId"), **short}
        if table == "inventory":
            found = self.store.find_key("inventory", key)
            if found is None:
                return None
            return {"number": found, "description": self.store.records["inventory"][found].get("description")}
        canonical = self.canonical(table, key)
        return ref_value(table, canonical) if canonical is not None else None

    def canonical(self, table: str, key: str) -> str | None:
        if table in ("customer", "inventory"):
            return self.store.find_key(table, key)
        return next((k for k in TABLES[table] if k.upper() == key.upper()), None)

    # ----------------------------------------------------------------- helpers
    def _today(self) -> date:
        return self.store.now().date()

    def _key(self, resource: str, key: str) -> str:
        found = self.store.find_key(resource, key)
        if found is None:
            raise not_found(TITLES[resource], key, document=resource in DOCUMENTS)
        return found

    def _require(self, resource: str, key: str) -> tuple[str, Record]:
        found = self._key(resource, key)
        record = self.store.get(resource, found)
        assert record is not None
        return found, record

    def _commit(self, resource: str, key: str, record: Record) -> Record:
        stored = self.store.put(resource, key, record)
        self.store.save()
        return stored

    def _check_if_match(self, resource: str, key: str, if_match: str | None) -> None:
        if if_match is None or not if_match.strip():
            return
        if not _etag_matches(if_match, self.store.version(resource, key)):
            raise document_error(
                "The record has been changed by another process since it was read (If-Match does not match "
                "the current ETag). Read it again and retry.",
                412,
            )

    # ----------------------------------------------------------------- reads
    def get(self, resource: str, key: str) -> tuple[Record, str]:
        with self.store.lock:
            found, record = self._require(resource, key)
            version = self.store.version(resource, found)
            assert version is not None
            return record, version

    def get_internal(self, resource: str, internal_id: str) -> tuple[Record, str]:
        field = "internalId" if resource == "customer" else "inventoryId"
        with self.store.lock:
            for key, record in self.store.records[resource].items():
                if str(record.get(field)) == internal_id.strip():
                    return self.get(resource, key)
        raise not_found(TITLES[resource], internal_id)

    def list_records(self, resource: str, query: dict[str, list[str]], max_page_size: int) -> tuple[list[Record], int]:
        return select(resource, self.store.all_dated(resource), query, max_page_size)

    # ----------------------------------------------------------------- writes
    def create(self, resource: str, data: Any) -> Record:
        with self.store.lock:
            body = Body(self, document=resource in DOCUMENTS, creating=True)
            record = TEMPLATES[resource]()
            given = apply_body(record, data, SPECS[resource], body)
            key = getattr(self, f"_create_{resource}")(record, given, body)
            return self._commit(resource, key, record)

    def update(self, resource: str, key: str, data: Any, *, if_match: str | None = None) -> Record:
        with self.store.lock:
            key, record = self._require(resource, key)
            self._check_if_match(resource, key, if_match)
            self._check_editable(resource, record)
            body = Body(self, document=resource in DOCUMENTS, creating=False)
            given = apply_body(record, data, SPECS[resource], body)
            getattr(self, f"_update_{resource}")(key, record, given, body)
            return self._commit(resource, key, record)

    def delete(self, resource: str, key: str) -> None:
        if resource != "customerinvoice":  # pragma: no cover - routes only exist for invoices
            raise ApiError(405, "The requested resource does not support http method 'DELETE'.")
        with self.store.lock:
            key, record = self._require(resource, key)
            self._check_editable(resource, record, deleting=True)
            self.store.delete(resource, key)
            self.store.save()

    def _check_editable(self, resource: str, record: Record, *, deleting: bool = False) -> None:
        if resource == "customerinvoice" and record["status"] not in EDITABLE_INVOICE:
            verb = "deleting" if deleting else "updating"
            raise document_error(
                f"Error {verb} document. Error: The document {record['referenceNumber']} has status "
                f"{record['status']} and cannot be changed; use the correct or reverse action instead."
            )
        if resource == "salesorder" and record["status"] in CLOSED_ORDER:
            raise document_error(
                f"Error updating document. Error: The order {record['orderNo']} has status {record['status']} "
                "and cannot be changed."
            )

    # ----------------------------------------------------------------- customer
    def _create_customer(self, record: Record, given: dict[str, Any], body: Body) -> str:
        if not record.get("name"):
            raise ipp(400, "10400", "Name is a mandatory field.")
        number = record.get("number")
        if number:
            number = str(number).strip()
            if self.store.find_key("customer", number) is not None:
                raise ipp(400, DUPLICATE, f"Customer {number} already exists.")
            if number.isdigit():
                self.store.note("customer", int(number))
        else:
            while True:
                number = str(self.store.next("customer", start=9999))
                if self.store.find_key("customer", number) is None:
                    break
        record["number"] = number
        record["internalId"] = self.store.next("customer.internalId", start=100)
        class_id = record["customerClass"]["id"] if record.get("customerClass") else "1"
        record["customerClass"] = ref_value("customerClass", class_id)
        self._class_defaults(record, given, class_id, override=bool(given.get("overrideWithClassValues")))
        self._finish_customer(record)
        return number

    def _update_customer(self, key: str, record: Record, given: dict[str, Any], body: Body) -> None:
        if "number" in given and str(given["number"]).upper() != key.upper():
            raise ipp(400, "10400", "The customer number can only be changed with the action changeCustomerCd.")
        record["number"] = key
        if "customerClassId" in given and given.get("overrideWithClassValues"):
            self._class_defaults(record, given, record["customerClass"]["id"], override=True)
        self._finish_customer(record)

    @staticmethod
    def _class_defaults(record: Record, given: dict[str, Any], class_id: str, *, override: bool) -> None:
        defaults = CUSTOMER_CLASSES[class_id]
        if override or "creditTermsId" not in given:
            record["creditTerms"] = ref_value("creditTerms", defaults["creditTermsId"])
        if override or "currencyId" not in given:
            record["currencyId"] = defaults["currencyId"]
        if override or "vatZoneId" not in given:
            record["vatZone"] = ref_value("vatZone", defaults["vatZoneId"])

    def _finish_customer(self, record: Record) -> None:
        for name in ("mainAddress", "invoiceAddress", "deliveryAddress"):
            address = record[name]
            if address.get("addressId") is None:
                address["addressId"] = self.store.next("addressId", start=1000)
            if address.get("country") is None:
                address["country"] = ref_value("country", "NO")
        for name in ("mainContact", "invoiceContact", "deliveryContact"):
            contact = record[name]
            if contact.get("contactId") is None:
                contact["contactId"] = self.store.next("contactInfoId", start=1000)
        if not record["mainContact"].get("name"):
            record["mainContact"]["name"] = record["name"]

    # ----------------------------------------------------------------- contact
    def _create_contact(self, record: Record, given: dict[str, Any], body: Body) -> str:
        if not record.get("lastName"):
            raise ipp(400, "10400", "LastName is a mandatory field.")
        contact_id = self.store.next("contact", start=0)
        record["contactId"] = contact_id
        self._finish_contact(record)
        return str(contact_id)

    def _update_contact(self, key: str, record: Record, given: dict[str, Any], body: Body) -> None:
        if "lastName" in given and not record.get("lastName"):
            raise ipp(400, "10400", "LastName cannot be empty.")
        self._finish_contact(record)

    def _finish_contact(self, record: Record) -> None:
        names = [record.get("firstName"), record.get("lastName")]
        record["displayName"] = " ".join(str(n) for n in names if n)
        record["businessAccountType"] = "Customer" if record.get("businessAccount") else None
        address = record["address"]
        if address.get("addressId") is None:
            address["addressId"] = self.store.next("addressId", start=1000)

    # ----------------------------------------------------------------- inventory
    def _create_inventory(self, record: Record, given: dict[str, Any], body: Body) -> str:
        number = str(record.get("inventoryNumber") or "").strip()
        if not number:
            raise ipp(400, "10400", "InventoryNumber is a mandatory field.")
        if self.store.find_key("inventory", number) is not None:
            raise ipp(400, DUPLICATE, f"Inventory item {number} already exists.")
        record["inventoryNumber"] = number
        record["inventoryId"] = self.store.next("inventory.inventoryId", start=100)
        if record.get("itemClass") is None:
            record["itemClass"] = ref_value("itemClass", "1" if record["type"] in STOCK_TYPES else "2")
        self._finish_inventory(record)
        return number

    def _update_inventory(self, key: str, record: Record, given: dict[str, Any], body: Body) -> None:
        if "inventoryNumber" in given and str(given["inventoryNumber"]).upper() != key.upper():
            raise ipp(400, "10400", "The item number can only be changed with the action changeInventoryNbr.")
        record["inventoryNumber"] = key
        self._finish_inventory(record)

    @staticmethod
    def _finish_inventory(record: Record) -> None:
        record["stockItem"] = record["type"] in STOCK_TYPES
        record["recommendedPrice"] = record.get("defaultPrice") or 0.0

    # ----------------------------------------------------------------- documents
    def _document_number(self, resource: str, record: Record, field: str) -> str:
        number = record.get(field)
        if number:
            number = str(number).strip()
            if self.store.find_key(resource, number) is not None:
                raise document_error(f"Error creating document. Error: {TITLES[resource]} {number} already exists.")
            if number.isdigit():
                self.store.note(resource, int(number))
            return number
        while True:
            candidate = f"{self.store.next(resource):06d}"
            if self.store.find_key(resource, candidate) is None:
                return candidate

    def _customer_of(self, record: Record, body: Body) -> Record:
        customer = record.get("customer")
        if not customer:
            raise body.fail("Customer is a mandatory field.")
        found = self.store.get("customer", customer["number"])
        assert found is not None
        return found

    def _create_salesorder(self, record: Record, given: dict[str, Any], body: Body) -> str:
        customer = self._customer_of(record, body)
        record["orderType"] = str(record.get("orderType") or "SO").upper()
        number = self._document_number("salesorder", record, "orderNo")
        record["orderNo"] = number
        record["date"] = record.get("date") or self._today().isoformat() + "T00:00:00"
        if "currency" not in given:
            record["currency"] = customer.get("currencyId") or BASE_CURRENCY
        if "terms" not in given:
            record["terms"] = copy.deepcopy(customer.get("creditTerms"))
        if "customerVatzone" not in given:
            record["customerVATZone"] = copy.deepcopy(customer.get("vatZone"))
        for target, source in (("soBillingAddress", "invoiceAddress"), ("soShippingAddress", "deliveryAddress")):
            if target not in given:
                record[target] = copy.deepcopy(customer[source])
        for target, source in (("soBillingContact", "invoiceContact"), ("soShippingContact", "deliveryContact")):
            if target not in given:
                record[target] = copy.deepcopy(customer[source])
        self._apply_lines("salesorder", number, record, given.get("lines", []), body)
        self._finish_salesorder(record)
        return number

    def _update_salesorder(self, key: str, record: Record, given: dict[str, Any], body: Body) -> None:
        if "orderNumber" in given and str(given["orderNumber"]).upper() != key.upper():
            raise body.fail(f"The order number {given['orderNumber']} does not match the order {key}.")
        record["orderNo"] = key
        record["orderType"] = str(record.get("orderType") or "SO").upper()
        if "lines" in given:
            self._apply_lines("salesorder", key, record, given["lines"], body)
        self._finish_salesorder(record)

    def _finish_salesorder(self, record: Record) -> None:
        if record["status"] in ("Open", "Hold"):
            record["status"] = "Hold" if record.get("hold") else "Open"
        rate = EXCHANGE_RATES.get(record.get("currency") or BASE_CURRENCY, 1.0)
        record["exchangeRate"] = rate
        taxable = exempt = tax = discount = 0.0
        for line in record["lines"]:
            amount = line["extPrice"]
            rate_pct = vat_rate(line.get("taxCategory"))
            if rate_pct > 0:
                taxable += amount
                tax += amount * rate_pct / 100
            else:
                exempt += amount
            discount += line["discountAmount"] or 0.0
        totals = {
            "vatTaxableTotal": taxable,
            "vatExemptTotal": exempt,
            "taxTotal": tax,
            "discountTotal": discount,
            "orderTotal": taxable + exempt + tax,
        }
        for name, value in totals.items():
            record[name] = _money(value)
            record[name + "InBaseCurrency"] = _money(value * rate)
        terms = record.get("terms")
        if terms and record.get("date"):
            days = CREDIT_TERMS.get(terms["id"], ("", 30))[1]
            start = datetime.fromisoformat(record["date"]).date()
            record["dueDate"] = (start + timedelta(days=days)).isoformat() + "T00:00:00"

    def _create_customerinvoice(self, record: Record, given: dict[str, Any], body: Body) -> str:
        customer = self._customer_of(record, body)
        number = self._document_number("customerinvoice", record, "referenceNumber")
        record["referenceNumber"] = number
        record["documentDate"] = record.get("documentDate") or self._today().isoformat() + "T00:00:00"
        if "currencyId" not in given:
            record["currencyId"] = customer.get("currencyId") or BASE_CURRENCY
        if "creditTermsId" not in given:
            record["creditTerms"] = copy.deepcopy(customer.get("creditTerms"))
        if "customerVatZoneId" not in given:
            record["customerVatZone"] = copy.deepcopy(customer.get("vatZone"))
        if "billingAddress" not in given:
            record["invoiceAddress"] = copy.deepcopy(customer["invoiceAddress"])
        if "invoiceContact" not in given:
            record["invoiceContact"] = copy.deepcopy(customer["invoiceContact"])
        if "hold" not in given:
            record["hold"] = True
        self._apply_lines("customerinvoice", number, record, given.get("invoiceLines", []), body)
        self._finish_invoice(record, given)
        return number

    def _update_customerinvoice(self, key: str, record: Record, given: dict[str, Any], body: Body) -> None:
        if "referenceNumber" in given and str(given["referenceNumber"]).upper() != key.upper():
            raise body.fail(f"The reference number {given['referenceNumber']} does not match the invoice {key}.")
        record["referenceNumber"] = key
        if "invoiceLines" in given:
            self._apply_lines("customerinvoice", key, record, given["invoiceLines"], body)
        self._finish_invoice(record, given)

    def _finish_invoice(self, record: Record, given: dict[str, Any]) -> None:
        if record["status"] in EDITABLE_INVOICE:
            record["status"] = "Hold" if record.get("hold") else "Balanced"
        rate = record["exchangeRate"] if "exchangeRate" in given else None
        rate = rate or EXCHANGE_RATES.get(record.get("currencyId") or BASE_CURRENCY, 1.0)
        record["exchangeRate"] = rate
        document_date = datetime.fromisoformat(record["documentDate"]).date()
        if "documentDueDate" not in given and record.get("creditTerms"):
            days = CREDIT_TERMS.get(record["creditTerms"]["id"], ("", 30))[1]
            record["documentDueDate"] = (document_date + timedelta(days=days)).isoformat() + "T00:00:00"
        if "financialPeriod" not in given:
            record["financialPeriod"] = document_date.strftime("%Y%m")
        if "postPeriod" not in given:
            record["postPeriod"] = document_date.strftime("%m%Y")
        taxable = exempt = vat = discount = 0.0
        for line in record["invoiceLines"]:
            rate_pct = vat_rate((line.get("vatCode") or {}).get("id"))
            if rate_pct > 0:
                taxable += line["amount"]
                vat += line["amount"] * rate_pct / 100
            else:
                exempt += line["amount"]
            discount += line["discountAmount"] or 0.0
        amount = taxable + exempt + vat
        totals = {
            "vatTaxableTotal": taxable,
            "vatExemptTotal": exempt,
            "vatTotal": vat,
            "discountTotal": discount,
            "detailTotal": taxable + exempt,
            "amount": amount,
            "balance": 0.0 if record["status"] in ("Closed", "Voided") else amount,
        }
        for name, value in totals.items():
            record[name] = _money(value)
            record[name + "InCurrency"] = _money(value * rate)

    # ----------------------------------------------------------------- lines
    def _apply_lines(self, resource: str, number: str, record: Record, raw_lines: list[Any], body: Body) -> None:
        lines_field, id_field, spec = LINE_SPECS[resource]
        lines: list[Record] = record[lines_field]
        for index, raw in enumerate(raw_lines):
            where = f"{lines_field}[{index}]"
            operation = line_operation(body, where, raw)
            fields = line_fields(raw)
            raw_id = None
            for k in [k for k in fields if k.lower() == id_field.lower()]:
                raw_id = fields.pop(k)
            if operation == "Insert":
                line = LINE_TEMPLATES[resource]()
                given = apply_body(line, fields, spec, body, prefix=where + ".")
                self._line_defaults(resource, record, line, given, body, where)
                line[id_field] = self.store.next(f"lines:{resource}:{number}")
                self._compute_line(resource, record, line, given)
                lines.append(line)
                continue
            if raw_id is None:
                raise body.fail(f"'{where}.{id_field}' is required for operation {operation}.")
            line_no = unwrap(body, f"{where}.{id_field}", raw_id)
            existing = next((ln for ln in lines if str(ln[id_field]) == str(line_no)), None)
            if existing is None:
                raise body.fail(f"Line {line_no} cannot be found in the document.")
            if operation == "Delete":
                lines.remove(existing)
                continue
            given = apply_body(existing, fields, spec, body, prefix=where + ".")
            self._compute_line(resource, record, existing, given)
        for position, line in enumerate(lines, start=1):
            if resource == "salesorder":
                line["sortOrder"] = position

    def _line_defaults(
        self, resource: str, record: Record, line: Record, given: dict[str, Any], body: Body, where: str
    ) -> None:
        currency_rate = EXCHANGE_RATES.get(record.get("currency") or record.get("currencyId") or BASE_CURRENCY, 1.0)
        if resource == "salesorder":
            if not line.get("inventory"):
                # A text line: no item, a description (chosen, NOT CONFIRMED: the DTOs mark uom, not the
                # item, as mandatory; webCRM's integrations send text-only lines); nothing to take over.
                if not line.get("lineDescription"):
                    raise body.fail(f"'{where}.inventoryNumber' is a mandatory field.")
                return
            item = self.store.get("inventory", line["inventory"]["number"])
            assert item is not None
            if "lineDescription" not in given:
                line["lineDescription"] = item.get("description")
            if "uom" not in given:
                line["uom"] = item.get("salesUnit")
            if "unitPrice" not in given:
                line["unitPrice"] = _money((item.get("defaultPrice") or 0.0) / currency_rate)
            if "unitCost" not in given:
                line["unitCost"] = item.get("currentCost") or 0.0
            if "taxCategory" not in given:
                line["taxCategory"] = (item.get("vatCode") or {}).get("id")
            if "warehouse" not in given and item.get("stockItem"):
                line["warehouse"] = ref_value("warehouse", "MAIN")
            return
        item = self.store.get("inventory", line["inventoryNumber"]) if line.get("inventoryNumber") else None
        if item is not None:
            if "description" not in given:
                line["description"] = item.get("description")
            if "uom" not in given:
                line["uom"] = item.get("salesUnit")
            if "unitPriceInCurrency" not in given:
                line["unitPrice"] = _money((item.get("defaultPrice") or 0.0) / currency_rate)
        if "vatCodeId" not in given:
            if item is not None and item.get("vatCode"):
                line["vatCode"] = copy.deepcopy(item["vatCode"])
            else:
                zone = (record.get("customerVatZone") or {}).get("id") or "01"
                line["vatCode"] = ref_value("vatCode", VAT_ZONES.get(zone, ("", "1"))[1])
        if "accountNumber" not in given:
            line["account"] = ref_value("account", "3000")

    @staticmethod
    def _compute_line(resource: str, record: Record, line: Record, given: dict[str, Any]) -> None:
        if resource == "salesorder":
            rate = EXCHANGE_RATES.get(record.get("currency") or BASE_CURRENCY, 1.0)
            price_field, amount_field, given_amount = "unitPrice", "discountAmount", "discountAmount"
        else:
            rate = EXCHANGE_RATES.get(record.get("currencyId") or BASE_CURRENCY, 1.0)
            price_field, amount_field, given_amount = "unitPrice", "discountAmount", "discountAmountInCurrency"
            if "unitPriceInCurrency" in given:
                line["unitPrice"] = given["unitPriceInCurrency"] or 0.0
            if given_amount in given:
                line["discountAmount"] = given[given_amount] or 0.0
            if "manualAmountInCurrency" in given:
                line["manualAmount"] = given["manualAmountInCurrency"] or 0.0
        quantity = line.get("quantity") or 0.0
        price = line.get(price_field) or 0.0
        gross = quantity * price
        if given_amount in given and "discountPercent" not in given:
            line["manualDiscount"] = True
            line["discountPercent"] = round((line[amount_field] or 0.0) / gross * 100, 6) if gross else 0.0
        else:
            line[amount_field] = _money(gross * (line.get("discountPercent") or 0.0) / 100)
        net = _money(gross - (line[amount_field] or 0.0))
        if resource == "salesorder":
            line["extPrice"] = net
            line["unbilledAmount"] = net
            line["openQty"] = quantity - (line.get("qtyOnShipments") or 0.0)
            line["discUnitPrice"] = round(price * (1 - (line.get("discountPercent") or 0.0) / 100), 4)
            line["unitPriceInBaseCurrency"] = _money(price * rate)
        else:
            if line.get("manualAmount"):
                net = line["manualAmount"]
            line["amount"] = net
            line["amountInCurrency"] = _money(net * rate)
            line["unitPriceInCurrency"] = _money(price * rate)
            line["discountAmountInCurrency"] = _money((line["discountAmount"] or 0.0) * rate)
            line["manualAmountInCurrency"] = _money((line.get("manualAmount") or 0.0) * rate)

    # ----------------------------------------------------------------- actions
    def release_invoice(self, key: str) -> Record:
        with self.store.lock:
            key, record = self._require("customerinvoice", key)
            if record["status"] == "Hold":
                raise document_error("Error releasing document. Error: The document is on hold and cannot be released.")
            if record["status"] != "Balanced":
                raise document_error(f"Error releasing document. Error: The document is already {record['status']}.")
            record["status"] = "Open"
            self._finish_invoice(record, {})
            return self._commit("customerinvoice", key, record)

    def cancel_order(self, key: str) -> Record:
        with self.store.lock:
            key, record = self._require("salesorder", key)
            if record["status"] in CLOSED_ORDER:
                raise document_error(f"Error cancelling order. Error: The order has status {record['status']}.")
            record["status"] = "Cancelled"
            record["canceled"] = True
            return self._commit("salesorder", key, record)

    def reopen_order(self, key: str) -> Record:
        with self.store.lock:
            key, record = self._require("salesorder", key)
            if record["status"] != "Cancelled":
                raise document_error(f"Error reopening order. Error: The order has status {record['status']}.")
            record["canceled"] = False
            record["status"] = "Hold" if record.get("hold") else "Open"
            return self._commit("salesorder", key, record)

    # ----------------------------------------------------------------- simulator helpers (not API)
    def invoice_sales_order(self, key: str, *, release: bool = False) -> Record:
        """Make the invoice of a sales order (as shipping + invoicing would): lines refer to the order,
        the order becomes ``Completed`` with ``invoiceNbr``/``invoiceDate``. Returns the invoice."""
        with self.store.lock:
            key, order = self._require("salesorder", key)
            if order["status"] in CLOSED_ORDER:
                raise document_error(f"The order {key} has status {order['status']}.")
            lines = [
                {
                    "operation": "Insert",
                    "inventoryNumber": {"value": (line.get("inventory") or {}).get("number")},
                    "description": {"value": line.get("lineDescription")},
                    "quantity": {"value": line["quantity"]},
                    "unitPriceInCurrency": {"value": line["unitPrice"]},
                    "discountPercent": {"value": line["discountPercent"]},
                    "uom": {"value": line.get("uom")},
                }
                for line in order["lines"]
            ]
            invoice = self.create(
                "customerinvoice",
                {
                    "customerNumber": {"value": order["customer"]["number"]},
                    "currencyId": {"value": order.get("currency")},
                    "customerRefNumber": {"value": order.get("customerRefNo")},
                    "invoiceText": {"value": order.get("description")},
                    "hold": {"value": False},
                    "invoiceLines": lines,
                },
            )
            number = invoice["referenceNumber"]
            for line in invoice["invoiceLines"]:
                line["soOrderType"] = order["orderType"]
                line["soOrderNbr"] = key
                line["soShipmentNbr"] = f"{self.store.next('shipment'):06d}"
            if release:
                invoice["status"] = "Open"
            invoice = self._commit("customerinvoice", number, invoice)
            order["status"] = "Completed"
            order["invoiceNbr"] = number
            order["invoiceDate"] = invoice["documentDate"]
            for line in order["lines"]:
                line["completed"] = True
                line["qtyOnShipments"] = line["quantity"]
                line["openQty"] = 0.0
                line["unbilledAmount"] = 0.0
            self._commit("salesorder", key, order)
            return invoice

    def set_invoice_status(self, key: str, status: str) -> Record:
        """Force an invoice status (``Closed`` when paid, ``Voided``...) for demo data and tests."""
        with self.store.lock:
            key, record = self._require("customerinvoice", key)
            record["status"] = status
            record["hold"] = status == "Hold"
            self._finish_invoice(record, {})
            return self._commit("customerinvoice", key, record)
