"""Business rules of the Fortnox simulator: create, update, delete and the document actions.

Handlers pass the unwrapped request object (``{"Customer": {...}}`` -> ``{...}``) and get back the
stored record; errors are raised as ``ApiError``. Choices where the real behaviour is NOT CONFIRMED:

- read-only fields (as flagged by the softwerkab SDK, e.g. ``Booked``, ``Total``, article
  ``SalesPrice``) are silently ignored on write; unknown fields are refused with 2001399;
- ``PUT`` and ``cancel`` on a **booked** invoice -> 400 code 2999004; ``credit`` needs a booked
  invoice, ``bookkeep``/``cancel`` an unbooked, uncancelled one (else 400 code 2999005);
- an order whose invoice was created, or that is cancelled, can no longer be updated or cancelled
  (400 code 2999005); ``createinvoice`` twice -> 400 code 2999005;
- a credit invoice gets ``Credit: "true"``, negated quantities and ``CreditInvoiceReference`` set to
  the original; the original's ``CreditInvoiceReference`` is set to the credit invoice;
- deleting a customer keeps its number reserved (2000637 on reuse, as documented);
- the switchable behaviours of ``FortnoxRules`` (``simulator.rules``): locked rows of an invoice made
  from an order, ``lastmodified`` to the minute, ``lastmodified`` refused on some lists.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Any

from mapsync.connectors.fortnox.simulator.errors import (
    CUSTOMER_NUMBER_USED,
    INVALID_FIELD,
    INVOICE_BOOKED,
    NUMBER_USED,
    ORDER_INVOICE_ROWS,
    REQUIRED_FIELD,
    WRONG_STATE,
    ApiError,
    bad_request,
    not_found,
)
from mapsync.connectors.fortnox.simulator.listing import select
from mapsync.connectors.fortnox.simulator.rows import apply_rows, compute_row, document_totals, renumber
from mapsync.connectors.fortnox.simulator.rules import ORDER_INVOICE_ROWS_MESSAGE, FortnoxRules
from mapsync.connectors.fortnox.simulator.store import FortnoxStore
from mapsync.connectors.fortnox.simulator.templates import (
    NUMBER_FIELDS,
    ROW_FIELDS,
    record_template,
    row_template,
)
from mapsync.connectors.fortnox.simulator.values import merge_fields, number_text
from mapsync.connectors.fortnox.timefmt import stockholm

Record = dict[str, Any]

READ_ONLY: dict[str, frozenset[str]] = {
    "customer": frozenset({"Country", "DeliveryCountry", "VisitingCountry"}),
    "article": frozenset({"DisposableQuantity", "ReservedQuantity", "SalesPrice", "StockValue", "SupplierName"}),
    "order": frozenset(
        {
            "AdministrationFeeVAT",
            "BasisTaxReduction",
            "Cancelled",
            "ContributionPercent",
            "ContributionValue",
            "FreightVAT",
            "Gross",
            "HouseWork",
            "InvoiceReference",
            "Net",
            "OfferReference",
            "OrderType",
            "RoundOff",
            "Sent",
            "TaxReduction",
            "Total",
            "TotalToPay",
            "TotalVAT",
            "WarehouseReady",
        }
    ),
    "invoice": frozenset(
        {
            "AccountingMethod",
            "AdministrationFeeVAT",
            "Balance",
            "BasisTaxReduction",
            "Booked",
            "Cancelled",
            "Credit",
            "CreditInvoiceReference",
            "ContractReference",
            "ContributionPercent",
            "ContributionValue",
            "FreightVAT",
            "Gross",
            "HouseWork",
            "InvoicePeriodStart",
            "InvoicePeriodEnd",
            "InvoiceReference",
            "LastRemindDate",
            "Net",
            "NoxFinans",
            "OfferReference",
            "OrderReference",
            "Reminders",
            "RoundOff",
            "Sent",
            "TaxReduction",
            "Total",
            "TotalVAT",
            "VoucherNumber",
            "VoucherSeries",
            "VoucherYear",
            "TotalToPay",
        }
    ),
}
ROW_READ_ONLY: dict[str, frozenset[str]] = {
    "order": frozenset({"ContributionPercent", "ContributionValue", "Total", "ReservedQuantity"}),
    "invoice": frozenset(
        {"ContributionPercent", "ContributionValue", "PriceExcludingVAT", "Total", "TotalExcludingVAT"}
    ),
}
IGNORED = frozenset({"@url", "@urlTaxReductionList"})
MAX_LENGTHS: dict[str, dict[str, int]] = {
    "customer": {
        "Name": 1024,
        "ZipCode": 10,
        "CountryCode": 2,
        "DeliveryCountryCode": 2,
        "VisitingCountryCode": 2,
        "OurReference": 50,
        "YourReference": 50,
        "WWW": 128,
        "Currency": 3,
        "CustomerNumber": 1024,
    },
    "article": {"ArticleNumber": 50, "Description": 200},
    "order": {"OurReference": 50, "YourReference": 50, "Currency": 3},
    "invoice": {"OurReference": 50, "YourReference": 50, "Currency": 3},
}
ROW_MAX_LENGTHS = {"Description": 255}
REQUIRED = {
    "customer": ("Name",),
    "article": ("Description",),
    "order": ("CustomerNumber",),
    "invoice": ("CustomerNumber",),
}
COUNTRY_NAMES = {
    "SE": "Sverige",
    "NO": "Norge",
    "DK": "Danmark",
    "FI": "Finland",
    "IS": "Island",
    "DE": "Tyskland",
    "GB": "Storbritannien",
    "US": "USA",
    "NL": "Nederländerna",
    "FR": "Frankrike",
    "ES": "Spanien",
    "PL": "Polen",
    "EE": "Estland",
    "IE": "Irland",
}
_CUSTOMER_TO_DOCUMENT = {
    "CustomerName": "Name",
    "Address1": "Address1",
    "Address2": "Address2",
    "City": "City",
    "ZipCode": "ZipCode",
    "Country": "Country",
    "OrganisationNumber": "OrganisationNumber",
    "Phone1": "Phone1",
    "Phone2": "Phone2",
    "Currency": "Currency",
    "PriceList": "PriceList",
    "DeliveryName": "DeliveryName",
    "DeliveryAddress1": "DeliveryAddress1",
    "DeliveryAddress2": "DeliveryAddress2",
    "DeliveryCity": "DeliveryCity",
    "DeliveryZipCode": "DeliveryZipCode",
    "DeliveryCountry": "DeliveryCountry",
}


def ocr_for(number: str) -> str:
    """OCR reference as Fortnox builds it: number, length digit, Luhn check digit ("1" -> "133")."""
    base = number + str((len(number) + 2) % 10)
    total = 0
    for i, ch in enumerate(reversed(base)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return base + str((10 - total % 10) % 10)


class FortnoxBackend:
    """The operations the HTTP handlers call."""

    def __init__(self, store: FortnoxStore, rules: FortnoxRules | None = None) -> None:
        self.store = store
        self.rules = rules or FortnoxRules()

    # ----------------------------------------------------------------- helpers
    def _today(self) -> date:
        return self.store.now().astimezone(stockholm()).date()

    def _require(self, entity: str, number: str) -> Record:
        record = self.store.get(entity, number)
        if record is None:
            raise not_found(entity)
        return record

    def _commit(self, entity: str, record: Record) -> Record:
        self.store.put(entity, record[NUMBER_FIELDS[entity]], record)
        self.store.save()
        return record

    # ----------------------------------------------------------------- reads
    def get(self, entity: str, number: str) -> Record:
        return self._require(entity, number)

    def list(self, entity: str, query: dict[str, list[str]]) -> tuple[list[Record], dict[str, int]]:
        return select(entity, self.store.all_dated(entity), query, self.rules)

    # ----------------------------------------------------------------- writes
    def create(self, entity: str, given: Record) -> Record:
        with self.store.lock:
            record = record_template(entity)
            number_field = NUMBER_FIELDS[entity]
            given = {k: v for k, v in given.items() if k not in IGNORED}
            for name in REQUIRED[entity]:
                if given.get(name) in (None, ""):
                    raise bad_request(REQUIRED_FIELD, f"Fältet {name} måste anges.")
            number = given.get(number_field)
            number = number_text(number) if isinstance(number, int | float) else number
            rows_field = ROW_FIELDS.get(entity)
            skip = frozenset({number_field} | ({rows_field} if rows_field else set()))
            merge_fields(
                record,
                given,
                record_template(entity),
                creating=True,
                read_only=READ_ONLY[entity],
                skip=skip,
                max_lengths=MAX_LENGTHS[entity],
            )
            if number:
                if self.store.is_number_taken(entity, number):
                    if entity == "customer":
                        raise bad_request(CUSTOMER_NUMBER_USED, "Kundnumret är redan använt.")
                    raise bad_request(NUMBER_USED, f"Nummer {number} används redan.")
                self.store.note_number(entity, number)
            else:
                number = self.store.next_number(entity)
            record[number_field] = number
            if entity == "customer":
                self._derive_countries(record)
            elif rows_field:
                self._fill_document(entity, record, given)
                rows = given.get(rows_field, [])
                record[rows_field] = apply_rows([], rows, lambda r: self._new_row(entity, r), self._fail)
                self._finish_document(entity, record)
            return self._commit(entity, record)

    def update(self, entity: str, number: str, given: Record) -> Record:
        with self.store.lock:
            record = self._require(entity, number)
            self._check_writable(entity, record)
            number_field = NUMBER_FIELDS[entity]
            rows_field = ROW_FIELDS.get(entity)
            skip = frozenset({number_field} | ({rows_field} if rows_field else set()))
            given = {k: v for k, v in given.items() if k not in IGNORED}
            if (
                entity == "invoice"
                and self.rules.order_invoice_rows_locked
                and "InvoiceRows" in given
                and record.get("OrderReference") not in ("", "0", None)
            ):
                raise bad_request(ORDER_INVOICE_ROWS, ORDER_INVOICE_ROWS_MESSAGE)
            merge_fields(
                record,
                given,
                record_template(entity),
                creating=False,
                read_only=READ_ONLY[entity],
                skip=skip,
                max_lengths=MAX_LENGTHS[entity],
            )
            if entity == "customer":
                self._derive_countries(record)
            elif rows_field:
                if rows_field in given:
                    record[rows_field] = apply_rows(
                        record[rows_field],
                        given[rows_field],
                        lambda r: self._new_row(entity, r),
                        lambda old, r: self._update_row(entity, old, r),
                    )
                self._finish_document(entity, record)
            return self._commit(entity, record)

    def delete(self, entity: str, number: str) -> None:
        with self.store.lock:
            self._require(entity, number)
            self.store.delete(entity, number)
            self.store.save()

    # ----------------------------------------------------------------- actions
    def order_create_invoice(self, number: str) -> Record:
        with self.store.lock:
            order = self._require("order", number)
            if order["Cancelled"] or order["InvoiceReference"] not in ("", "0", None):
                raise bad_request(WRONG_STATE, "Ordern är makulerad eller redan fakturerad.")
            rows = []
            for row in order["OrderRows"]:
                delivered = row.get("DeliveredQuantity") or "0"
                quantity = delivered if float(delivered) else row.get("OrderedQuantity", "0")
                rows.append(
                    {
                        "ArticleNumber": row.get("ArticleNumber") or None,
                        "Description": row.get("Description"),
                        "DeliveredQuantity": quantity,
                        "Price": row.get("Price"),
                        "Discount": row.get("Discount"),
                        "DiscountType": row.get("DiscountType"),
                        "VAT": row.get("VAT"),
                        "Unit": row.get("Unit"),
                        "AccountNumber": row.get("AccountNumber"),
                    }
                )
            fields = {
                k: order[k]
                for k in (
                    "CustomerNumber",
                    "OurReference",
                    "YourReference",
                    "YourOrderNumber",
                    "ExternalInvoiceReference1",
                    "ExternalInvoiceReference2",
                    "Remarks",
                    "Comments",
                    "Currency",
                    "TermsOfPayment",
                    "DeliveryDate",
                    "Project",
                    "CostCenter",
                )
            }
            invoice = self.create("invoice", {**fields, "InvoiceRows": rows})
            invoice["OrderReference"] = order["DocumentNumber"]
            self._commit("invoice", invoice)
            order["InvoiceReference"] = invoice["DocumentNumber"]
            return self._commit("order", order)

    def order_cancel(self, number: str) -> Record:
        with self.store.lock:
            order = self._require("order", number)
            self._check_writable("order", order)
            order["Cancelled"] = True
            return self._commit("order", order)

    def invoice_bookkeep(self, number: str) -> Record:
        with self.store.lock:
            invoice = self._require("invoice", number)
            if invoice["Booked"] or invoice["Cancelled"]:
                raise bad_request(WRONG_STATE, "Fakturan är redan bokförd eller makulerad.")
            invoice["Booked"] = True
            invoice["VoucherSeries"] = "B"
            invoice["VoucherNumber"] = self.store.next("voucher")
            invoice["VoucherYear"] = 1
            return self._commit("invoice", invoice)

    def invoice_cancel(self, number: str) -> Record:
        with self.store.lock:
            invoice = self._require("invoice", number)
            if invoice["Booked"]:
                raise bad_request(INVOICE_BOOKED, "Fakturan är bokförd och kan inte makuleras.")
            if invoice["Cancelled"]:
                raise bad_request(WRONG_STATE, "Fakturan är redan makulerad.")
            invoice["Cancelled"] = True
            invoice["Balance"] = 0
            return self._commit("invoice", invoice)

    def invoice_payment(self, given: Record) -> Record:
        """``POST /3/invoicepayments``: a payment lowers the invoice's balance; paid in full sets
        ``FinalPayDate``. (Choice: the balance changes when the payment is registered; the real API
        also has ``PUT /3/invoicepayments/{n}/bookkeep``, not simulated.)"""
        with self.store.lock:
            number = str(given.get("InvoiceNumber") or "")
            invoice = self._require("invoice", number)
            if invoice["Cancelled"]:
                raise bad_request(WRONG_STATE, "Fakturan är makulerad.")
            try:
                amount = float(given.get("Amount"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise bad_request(REQUIRED_FIELD, "Fältet Amount måste anges.") from None
            balance = round(float(invoice.get("Balance") or 0) - amount, 2)
            invoice["Balance"] = int(balance) if balance.is_integer() else balance
            if balance <= 0:
                invoice["FinalPayDate"] = str(given.get("PaymentDate") or self._today().isoformat())
            self._commit("invoice", invoice)
            return {"Number": self.store.next("payment"), "InvoiceNumber": int(number), "Amount": amount,
                    "PaymentDate": given.get("PaymentDate") or self._today().isoformat(), "Booked": False}

    def invoice_credit(self, number: str) -> Record:
        with self.store.lock:
            invoice = self._require("invoice", number)
            if not invoice["Booked"] or invoice["Credit"] == "true":
                raise bad_request(WRONG_STATE, "Endast bokförda fakturor kan krediteras.")
            if invoice["CreditInvoiceReference"] not in ("", "0", None):
                raise bad_request(WRONG_STATE, "Fakturan är redan krediterad.")
            rows = [
                {
                    "ArticleNumber": row.get("ArticleNumber") or None,
                    "Description": row.get("Description"),
                    "DeliveredQuantity": number_text(-float(row.get("DeliveredQuantity") or 0)),
                    "Price": row.get("Price"),
                    "Discount": row.get("Discount"),
                    "DiscountType": row.get("DiscountType"),
                    "VAT": row.get("VAT"),
                    "AccountNumber": row.get("AccountNumber"),
                }
                for row in invoice["InvoiceRows"]
            ]
            credit = self.create(
                "invoice",
                {
                    "CustomerNumber": invoice["CustomerNumber"],
                    "InvoiceRows": rows,
                    "YourOrderNumber": invoice["YourOrderNumber"],
                },
            )
            credit["Credit"] = "true"
            credit["CreditInvoiceReference"] = invoice["DocumentNumber"]
            self._commit("invoice", credit)
            invoice["CreditInvoiceReference"] = credit["DocumentNumber"]
            return self._commit("invoice", invoice)

    # ----------------------------------------------------------------- internals
    def _check_writable(self, entity: str, record: Record) -> None:
        if entity == "invoice":
            if record["Booked"]:
                raise bad_request(INVOICE_BOOKED, "Fakturan är bokförd och kan inte ändras.")
            if record["Cancelled"]:
                raise bad_request(WRONG_STATE, "Fakturan är makulerad och kan inte ändras.")
        if entity == "order":
            if record["Cancelled"]:
                raise bad_request(WRONG_STATE, "Ordern är makulerad och kan inte ändras.")
            if record["InvoiceReference"] not in ("", "0", None):
                raise bad_request(WRONG_STATE, "Ordern är fakturerad och kan inte ändras.")

    @staticmethod
    def _derive_countries(record: Record) -> None:
        for code_field, name_field in (
            ("CountryCode", "Country"),
            ("DeliveryCountryCode", "DeliveryCountry"),
            ("VisitingCountryCode", "VisitingCountry"),
        ):
            code = record.get(code_field)
            if code:
                code = str(code).upper()
                record[code_field] = code
                record[name_field] = COUNTRY_NAMES.get(code, code)
            else:
                record[name_field] = None if record.get(name_field) is None else ""

    def _fill_document(self, entity: str, record: Record, given: Record) -> None:
        customer = self.store.get("customer", str(record["CustomerNumber"]))
        if customer is None:
            raise ApiError(400, 2000433, "Kan inte hitta kunden.")
        for doc_field, customer_field in _CUSTOMER_TO_DOCUMENT.items():
            if doc_field in record and doc_field not in given:
                value = customer.get(customer_field)
                if value not in (None, ""):
                    record[doc_field] = value
        if "TermsOfPayment" not in given and customer.get("TermsOfPayment"):
            record["TermsOfPayment"] = customer["TermsOfPayment"]
        today = self._today().isoformat()
        date_field = "OrderDate" if entity == "order" else "InvoiceDate"
        record[date_field] = record.get(date_field) or today
        record["OutboundDate"] = record.get("OutboundDate") or record[date_field]
        if entity == "invoice":
            terms = str(record.get("TermsOfPayment") or "30")
            days = int(terms) if terms.isdigit() else 30
            if not record.get("DueDate"):
                start = datetime.strptime(record["InvoiceDate"], "%Y-%m-%d").date()
                record["DueDate"] = (start + timedelta(days=days)).isoformat()
            record["OCR"] = record.get("OCR") or ocr_for(str(record["DocumentNumber"] or "0"))

    def _finish_document(self, entity: str, record: Record) -> None:
        rows_field = ROW_FIELDS[entity]
        renumber(record[rows_field], self.store.next_row_id)
        record.update(document_totals(record[rows_field]))
        if entity == "invoice":
            if not record.get("OCR"):
                record["OCR"] = ocr_for(str(record["DocumentNumber"]))
            record["Balance"] = 0 if record["Cancelled"] else record["Total"]
            record["TotalToPay"] = record["Total"]

    def _fail(self, old: Record, given: Record) -> Record:  # pragma: no cover - no rows on create
        raise bad_request(INVALID_FIELD, "Ogiltig rad.")

    def _new_row(self, entity: str, given: Record) -> Record:
        row = row_template(entity)
        article_number = given.get("ArticleNumber")
        if article_number not in (None, ""):
            article = self.store.get("article", str(article_number))
            if article is None:
                raise ApiError(400, 2000428, "Kan inte hitta artikeln.")
            row["Description"] = article.get("Description") or ""
            row["Unit"] = article.get("Unit") or ""
            if article.get("SalesPrice") is not None:
                row["Price"] = article["SalesPrice"]
            if article.get("SalesAccount"):
                row["AccountNumber"] = article["SalesAccount"]
            row["VAT"] = article.get("VAT") or 0
        return self._update_row(entity, row, given, creating=True)

    def _update_row(self, entity: str, row: Record, given: Record, *, creating: bool = False) -> Record:
        row = copy.deepcopy(row)
        merge_fields(
            row,
            {k: v for k, v in given.items() if k != "RowId"},
            row_template(entity),
            creating=creating,
            read_only=ROW_READ_ONLY[entity],
            max_lengths=ROW_MAX_LENGTHS,
        )
        if row.get("ArticleNumber") is None:
            row["ArticleNumber"] = ""
        compute_row(row, invoice=entity == "invoice")
        return row
