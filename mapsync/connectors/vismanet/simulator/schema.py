"""What the Visma.net simulator accepts and returns: write specs, reference data and DTO templates.

Write bodies use the *UpdateDto names of [V11] (``creditTermsId``, ``mainAddress.countryId``,
``customerNumber``, ``inventoryNumber`` ...), every field wrapped as ``{"value": ...}`` except the
plain ``overrideWithClassValues`` and a line's ``operation``. Each write name is described by an ``F``:

- ``str``/``int``/``num``/``bool``/``date``/``enum``: a scalar stored under the read name;
- ``ref``: an id checked against a reference table; the read shape gets an object
  (``creditTermsId: "30"`` -> ``creditTerms: {"id": "30", "description": "30 days"}``);
- ``flatref``: an id checked against a table, stored as the id (``currencyId``);
- ``obj``: a nested update DTO (addresses, contact info), itself value-wrapped;
- ``lines``: the document's line array (not wrapped);
- ``ignore``: accepted and not stored (fields the simulator does not model).

Choices (NOT CONFIRMED): field names bind case-insensitively (as ASP.NET does); a name that is not in
the write DTO is refused with 400 (the real API would probably drop it silently: a double that says so
catches mapping mistakes); ``{"value": null}`` clears a field; DTOs are returned with every field,
``null`` where empty; dates are returned as ``yyyy-MM-ddT00:00:00``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pycountry

Record = dict[str, Any]


@dataclass(frozen=True)
class F:
    kind: str = "str"
    read: str | None = None
    table: str | None = None
    choices: tuple[str, ...] = ()
    members: Mapping[str, F] = field(default_factory=dict)


S = F()
NUM = F("num")
INT = F("int")
BOOL = F("bool")
DATE = F("date")
IGNORE = F("ignore")

# ----------------------------------------------------------------------------- reference data
# Visma.net's country list is ISO 3166-1 (every country; names in English)
COUNTRIES = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
BASE_CURRENCY = "NOK"
EXCHANGE_RATES = {"NOK": 1.0, "SEK": 0.98, "DKK": 1.55, "EUR": 11.5, "USD": 10.6, "GBP": 13.4}
CREDIT_TERMS = {"0": ("Cash", 0), "10": ("10 days", 10), "14": ("14 days", 14), "20": ("20 days", 20),
                "30": ("30 days", 30), "45": ("45 days", 45), "60": ("60 days", 60)}
CUSTOMER_CLASSES = {
    "1": {"description": "Business customers", "creditTermsId": "30", "currencyId": "NOK", "vatZoneId": "01"},
    "2": {"description": "Private customers", "creditTermsId": "14", "currencyId": "NOK", "vatZoneId": "01"},
    "3": {"description": "Foreign customers", "creditTermsId": "30", "currencyId": "EUR", "vatZoneId": "03"},
}
VAT_ZONES = {"01": ("Domestic", "1"), "02": ("EU", "5"), "03": ("Export", "6")}
VAT_CODES = {"1": ("Output VAT, high rate", 25.0), "3": ("Output VAT, medium rate", 15.0),
             "5": ("Exempt, EU sale", 0.0), "6": ("Outside the VAT scope", 0.0)}
WAREHOUSES = {"MAIN": "Main warehouse", "WEB": "Web shop warehouse"}
ACCOUNTS = {"3000": "Sales, taxable", "3100": "Sales, exempt", "3200": "Sales, export"}
ITEM_CLASSES = {"1": "Goods", "2": "Services", "3": "Licences"}
POSTING_CLASSES = {"1": "Standard"}
PRICE_CLASSES = {"A": "Key accounts", "B": "Standard prices"}

TABLES: dict[str, Mapping[str, Any]] = {
    "country": COUNTRIES,
    "currency": EXCHANGE_RATES,
    "creditTerms": CREDIT_TERMS,
    "customerClass": CUSTOMER_CLASSES,
    "vatZone": VAT_ZONES,
    "vatCode": VAT_CODES,
    "taxCategory": VAT_CODES,
    "warehouse": WAREHOUSES,
    "account": ACCOUNTS,
    "itemClass": ITEM_CLASSES,
    "postingClass": POSTING_CLASSES,
    "priceClass": PRICE_CLASSES,
}
TABLE_TITLES = {
    "country": "Country",
    "currency": "CurrencyID",
    "creditTerms": "CreditTermsID",
    "customerClass": "CustomerClassID",
    "vatZone": "VatZoneID",
    "vatCode": "VatCodeID",
    "taxCategory": "TaxCategoryID",
    "warehouse": "Warehouse",
    "account": "Account",
    "itemClass": "ItemClassID",
    "postingClass": "PostingClassID",
    "priceClass": "PriceClassID",
    "customer": "Customer",
    "customerShort": "Customer",
    "inventory": "InventoryID",
}


def ref_value(table: str, key: str) -> Record:
    """The read-shape object of a reference-table id (``{"id", "description"}``, ``{"id", "name"}``)."""
    if table == "country":
        return {"id": key, "name": COUNTRIES[key], "errorInfo": None}
    if table == "creditTerms":
        return {"id": key, "description": CREDIT_TERMS[key][0]}
    if table == "customerClass":
        return {"id": key, "description": CUSTOMER_CLASSES[key]["description"]}
    if table == "vatZone":
        description, category = VAT_ZONES[key]
        return {"id": key, "description": description, "defaultVatCategory": category,
                "defaultTaxCategory": {"number": category, "description": VAT_CODES[category][0]}, "errorInfo": None}
    if table in ("vatCode", "taxCategory"):
        return {"id": key, "description": VAT_CODES[key][0]}
    if table == "account":
        return {"type": "Income", "number": key, "description": ACCOUNTS[key]}
    value = TABLES[table][key]
    return {"id": key, "description": value if isinstance(value, str) else str(value)}


def vat_rate(code: str | None) -> float:
    return VAT_CODES.get(code or "", ("", 0.0))[1]


# ----------------------------------------------------------------------------- enums
CUSTOMER_STATUS = ("Active", "OnHold", "CreditHold", "Inactive", "OneTime")
CREDIT_VERIFICATION = ("Disabled", "DaysPastDue", "CreditLimit", "LimitAndDaysPastDue")
STATEMENT_TYPE = ("OpenItem", "BalanceBroughtForward")
CONTACT_TITLE = ("Doctor", "Miss", "Mr", "Mrs", "Ms", "Prof")
CONTACT_METHOD = ("Any", "Email", "Fax", "Mail", "Phone")
INVENTORY_STATUS = ("Active", "NoSales", "NoPurchases", "NoRequest", "Inactive", "MarkedForDeletion")
INVENTORY_TYPE = ("NonStockItem", "LaborItem", "ServiceItem", "ChargeItem", "ExpenseItem", "FinishedGoodItem",
                  "ComponentPartItem", "SubassemblyItem")
STOCK_TYPES = frozenset({"FinishedGoodItem", "ComponentPartItem", "SubassemblyItem"})
SHIP_COMPLETE = ("CancelRemainder", "ShipComplete", "BackOrderAllowed")
SO_LINE_OPERATION = ("Issue", "Receipt")
LINE_OPERATIONS = ("Insert", "Update", "Delete")
EDITABLE_INVOICE = frozenset({"Hold", "Balanced"})
CLOSED_ORDER = frozenset({"Cancelled", "Completed", "Invoiced", "Voided"})

# ----------------------------------------------------------------------------- write specs
ADDRESS: dict[str, F] = {
    "addressLine1": S,
    "addressLine2": S,
    "addressLine3": S,
    "postalCode": S,
    "city": S,
    "countryId": F("ref", read="country", table="country"),
    "county": F("county"),
}
CONTACT_INFO: dict[str, F] = {n: S for n in ("name", "attention", "email", "web", "phone1", "phone2", "fax")}
ORDER_ADDRESS: dict[str, F] = ADDRESS | {"overrideAddress": BOOL}
ORDER_CONTACT: dict[str, F] = CONTACT_INFO | {"overrideContact": BOOL}

CUSTOMER: dict[str, F] = {
    "number": S,
    "name": S,
    "status": F("enum", choices=CUSTOMER_STATUS),
    "accountReference": S,
    "numberOfEmployees": INT,
    "parentRecordNumber": IGNORE,
    "currencyId": F("flatref", table="currency"),
    "creditLimit": NUM,
    "creditDaysPastDue": INT,
    "overrideWithClassValues": F("plain"),
    "customerClassId": F("ref", read="customerClass", table="customerClass"),
    "creditTermsId": F("ref", read="creditTerms", table="creditTerms"),
    "printInvoices": BOOL,
    "acceptAutoInvoices": BOOL,
    "sendInvoicesByEmail": BOOL,
    "sendDunningLettersViaEmail": F("bool", read="sendDunningLettersViaEMail"),
    "printDunningLetters": BOOL,
    "printStatements": BOOL,
    "sendStatementsByEmail": BOOL,
    "printMultiCurrencyStatements": BOOL,
    "invoiceToDefaultLocation": BOOL,
    "vatRegistrationId": S,
    "corporateId": S,
    "vatZoneId": F("ref", read="vatZone", table="vatZone"),
    "gln": S,
    "note": IGNORE,
    "mainAddress": F("obj", members=ADDRESS),
    "mainContact": F("obj", members=CONTACT_INFO),
    "creditVerification": F("enum", choices=CREDIT_VERIFICATION),
    "invoiceAddress": F("obj", members=ADDRESS),
    "invoiceContact": F("obj", members=CONTACT_INFO),
    "statementType": F("enum", choices=STATEMENT_TYPE),
    "deliveryAddress": F("obj", members=ADDRESS),
    "deliveryContact": F("obj", members=CONTACT_INFO),
    "priceClassId": F("ref", read="priceClass", table="priceClass"),
    "eInvoiceContract": IGNORE,
    "defaultPaymentMethod": IGNORE,
    "glAccounts": IGNORE,
    "directDebitLines": IGNORE,
    "attributeLines": IGNORE,
    "overrideNumberSeries": IGNORE,
    "excludeDebtCollection": BOOL,
}

CONTACT: dict[str, F] = {
    "active": BOOL,
    "title": F("enum", choices=CONTACT_TITLE),
    "firstName": S,
    "lastName": S,
    "position": S,
    "businessAccount": F("flatref", table="customer"),
    "sameAsAccount": BOOL,
    "address": F("obj", members=ADDRESS),
    "email": S,
    "web": S,
    "phone1": S,
    "phone2": S,
    "phone3": S,
    "fax": S,
    "contactMethod": F("enum", choices=CONTACT_METHOD),
    "doNotCall": BOOL,
    "doNotFax": BOOL,
    "doNotEmail": BOOL,
    "doNotMail": BOOL,
    "noMassMail": BOOL,
    "noMarketing": BOOL,
}

INVENTORY: dict[str, F] = {
    "inventoryNumber": S,
    "status": F("enum", choices=INVENTORY_STATUS),
    "type": F("enum", choices=INVENTORY_TYPE),
    "description": S,
    "body": S,
    "itemClass": F("ref", read="itemClass", table="itemClass"),
    "postingClass": F("ref", read="postingClass", table="postingClass"),
    "vatCode": F("ref", read="vatCode", table="vatCode"),
    "defaultPrice": NUM,
    "baseUnit": F("uom"),
    "salesUnit": F("uom"),
    "purchaseUnit": F("uom"),
    "defaultWarehouse": F("ref", read="defaultWarehouse", table="warehouse"),
    "kitItem": BOOL,
    "note": S,
} | {
    name: IGNORE
    for name in (
        "expenseAccrualAccount", "inventoryAccount", "expenseAccount", "cogsAccount", "expenseNonTaxableAccount",
        "expenseEuAccount", "expenseImportAccount", "expenseSubaccount", "cogsSubaccount", "salesAccount",
        "salesNonTaxableAccount", "salesEuAccount", "salesExportAccount", "salesSubaccount", "attributeLines",
        "packaging", "supplierDetails", "intrastat", "crossReferences", "defaultIssueFrom", "defaultReceiptTo",
    )
}

SALES_ORDER_LINE: dict[str, F] = {
    "lineNbr": INT,
    "inventoryNumber": F("ref", read="inventory", table="inventory"),
    "inventoryId": IGNORE,
    "warehouse": F("ref", read="warehouse", table="warehouse"),
    "uom": F("uom"),
    "quantity": NUM,
    "unitCost": NUM,
    "unitPrice": NUM,
    "discountPercent": NUM,
    "discountAmount": NUM,
    "discountCode": S,
    "manualDiscount": BOOL,
    "discUnitPrice": NUM,
    "lineDescription": S,
    "note": S,
    "requestedOn": DATE,
    "shipOn": DATE,
    "taxCategory": F("flatref", table="taxCategory"),
    "salesOrderOperation": F("enum", read="operation", choices=SO_LINE_OPERATION),
    "freeItem": BOOL,
    "completed": BOOL,
    "shipComplete": F("enum", choices=SHIP_COMPLETE),
    "undershipThreshold": NUM,
    "overshipThreshold": NUM,
    "markForPo": F("bool", read="markForPO"),
    "poSource": S,
    "lotSerialNbr": S,
    "expirationDate": DATE,
    "reasonCode": S,
    "commissionable": BOOL,
    "alternateId": F("str", read="alternateID"),
    "externalLink": S,
    "isRotRutDeductible": BOOL,
} | {name: IGNORE for name in ("invoiceNbr", "salesPerson", "projectTask", "subaccount", "branchNumber")}

SALES_ORDER: dict[str, F] = {
    "orderType": S,
    "orderNumber": F("str", read="orderNo"),
    "hold": BOOL,
    "date": DATE,
    "requestOn": DATE,
    "customerOrder": S,
    "customerRefNo": S,
    "customer": F("ref", read="customer", table="customer"),
    "contactId": INT,
    "currency": F("flatref", table="currency"),
    "description": S,
    "note": S,
    "terms": F("ref", read="terms", table="creditTerms"),
    "customerVatzone": F("ref", read="customerVATZone", table="vatZone"),
    "soBillingContact": F("obj", members=ORDER_CONTACT),
    "soBillingAddress": F("obj", members=ORDER_ADDRESS),
    "soShippingContact": F("obj", members=ORDER_CONTACT),
    "soShippingAddress": F("obj", members=ORDER_ADDRESS),
    "schedShipment": DATE,
    "shipSeparately": BOOL,
    "shipComplete": F("enum", choices=SHIP_COMPLETE),
    "cancelBy": DATE,
    "priority": INT,
    "invoiceSeparately": BOOL,
    "printDescriptionOnInvoice": BOOL,
    "printNoteOnExternalDocuments": BOOL,
    "printNoteOnInternalDocuments": BOOL,
    "residentialDelivery": BOOL,
    "saturdayDelivery": BOOL,
    "insurance": BOOL,
    "isRotRutDeductible": BOOL,
    "emailed": BOOL,
    "paymentRef": S,
    "cashAccount": S,
    "origOrderType": S,
    "origOrderNbr": S,
    "lines": F("lines"),
} | {
    name: IGNORE
    for name in (
        "project", "salesPerson", "owner", "preferredWarehouse", "shipVia", "fobPoint", "shippingTerms",
        "shippingZone", "transactionType", "paymentMethod", "rotRutDetails", "location", "gln",
        "vatRegistrationId", "recalculateShipment", "branchNumber", "overrideNumberSeries", "canceled",
    )
}

INVOICE_LINE: dict[str, F] = {
    "lineNumber": INT,
    "inventoryNumber": F("flatref", table="inventory"),
    "description": S,
    "quantity": NUM,
    "unitPriceInCurrency": NUM,
    "manualAmountInCurrency": NUM,
    "accountNumber": F("ref", read="account", table="account"),
    "vatCodeId": F("ref", read="vatCode", table="vatCode"),
    "uom": F("uom"),
    "discountPercent": NUM,
    "discountAmountInCurrency": NUM,
    "manualDiscount": BOOL,
    "discountCode": S,
    "deferralSchedule": INT,
    "deferralCode": S,
    "termStartDate": DATE,
    "termEndDate": DATE,
    "startDate": DATE,
    "endDate": DATE,
    "note": S,
} | {
    name: IGNORE
    for name in ("subaccount", "salesperson", "branchNumber", "itemType", "typeOfWork", "taskId",
                 "domesticServicesDeductible")
}

CUSTOMER_INVOICE: dict[str, F] = {
    "referenceNumber": S,
    "customerNumber": F("ref", read="customer", table="customerShort"),
    "documentDate": DATE,
    "documentDueDate": DATE,
    "origInvoiceDate": DATE,
    "cashDiscountDate": DATE,
    "currencyId": F("flatref", table="currency"),
    "creditTermsId": F("ref", read="creditTerms", table="creditTerms"),
    "customerRefNumber": S,
    "externalReference": S,
    "paymentReference": S,
    "invoiceText": S,
    "hold": BOOL,
    "postPeriod": S,
    "financialPeriod": S,
    "note": S,
    "exchangeRate": NUM,
    "sendToAutoInvoice": BOOL,
    "customerVatZoneId": F("ref", read="customerVatZone", table="vatZone"),
    "billingAddress": F("obj", read="invoiceAddress", members=ADDRESS),
    "invoiceContact": F("obj", members=CONTACT_INFO),
    "startDate": DATE,
    "endDate": DATE,
    "accountingCostRef": S,
    "originatorDocRef": S,
    "contractDocRef": S,
    "revoked": BOOL,
    "dontPrint": BOOL,
    "dontEmail": BOOL,
    "excludeDebtCollection": BOOL,
    "customerProject": S,
    "cashAccount": S,
    "salesPersonId": F("int", read="salesPersonID"),
    "invoiceLines": F("lines"),
} | {
    name: IGNORE
    for name in (
        "paymentMethodId", "contact", "project", "locationId", "salesperson", "branchNumber",
        "overrideNumberSeries", "childCustomerNumber", "consolidateInvoices", "rotRutDetails",
        "domesticServicesDeductibleDocument", "taxDetailLines", "directDebitMandateId", "debtCollectionCaseNbr",
        "debtCollectionCaseStatus", "debtCollectionCaseType", "debtCollectionCaseUrl",
    )
}

SPECS: dict[str, dict[str, F]] = {
    "customer": CUSTOMER,
    "contact": CONTACT,
    "inventory": INVENTORY,
    "salesorder": SALES_ORDER,
    "customerinvoice": CUSTOMER_INVOICE,
}
LINE_SPECS: dict[str, tuple[str, str, dict[str, F]]] = {
    # resource -> (lines field, line id field, line write spec)
    "salesorder": ("lines", "lineNbr", SALES_ORDER_LINE),
    "customerinvoice": ("invoiceLines", "lineNumber", INVOICE_LINE),
}


# ----------------------------------------------------------------------------- read templates
def address() -> Record:
    return {"addressId": None, "addressLine1": None, "addressLine2": None, "addressLine3": None,
            "postalCode": None, "city": None, "country": None, "county": None}


def contact_info() -> Record:
    return {"contactId": None, "name": None, "attention": None, "email": None, "web": None,
            "phone1": None, "phone2": None, "fax": None}


def customer_template() -> Record:
    return {
        "internalId": None, "number": None, "name": None, "status": "Active",
        "mainAddress": address(), "mainContact": contact_info(), "accountReference": None, "parentRecord": None,
        "customerClass": None, "creditTerms": None, "currencyId": None, "creditVerification": "Disabled",
        "creditLimit": 0.0, "creditDaysPastDue": 0, "invoiceAddress": address(), "invoiceContact": contact_info(),
        "printInvoices": False, "acceptAutoInvoices": False, "sendInvoicesByEmail": True,
        "sendDunningLettersViaEMail": False, "printDunningLetters": False, "printStatements": False,
        "sendStatementsByEmail": False, "printMultiCurrencyStatements": False, "statementType": "OpenItem",
        "deliveryAddress": address(), "deliveryContact": contact_info(), "vatRegistrationId": None,
        "corporateId": None, "gln": None, "vatZone": None, "location": {"id": "MAIN", "name": "Primary Location"},
        "attributes": [], "lastModifiedDateTime": None, "createdDateTime": None, "directDebitLines": [],
        "priceClass": None, "glAccounts": None, "invoiceToDefaultLocation": True, "eInvoiceContract": None,
        "paymentMethods": [], "defaultPaymentMethodId": None, "numberOfEmployees": 0, "excludeDebtCollection": False,
        "timeStamp": None, "errorInfo": None,
    }


def contact_template() -> Record:
    return {
        "displayName": None, "active": True, "title": None, "firstName": None, "lastName": None, "position": None,
        "businessAccount": None, "businessAccountType": None, "sameAsAccount": False, "address": address(),
        "email": None, "web": None, "phone1": None, "phone2": None, "phone3": None, "fax": None,
        "contactMethod": "Any", "doNotCall": False, "doNotFax": False, "doNotEmail": False, "doNotMail": False,
        "noMassMail": False, "noMarketing": False, "lastModifiedDateTime": None, "contactId": None,
        "timeStamp": None, "errorInfo": None,
    }


def inventory_template() -> Record:
    return {
        "inventoryId": None, "inventoryNumber": None, "status": "Active", "type": "NonStockItem",
        "description": None, "body": None, "itemClass": None, "postingClass": ref_value("postingClass", "1"),
        "vatCode": ref_value("vatCode", "1"), "lotSerialClass": None, "defaultPrice": 0.0, "pendingCost": 0.0,
        "pendingCostDate": None, "currentCost": 0.0, "effectiveDate": None, "lastCost": 0.0,
        "lastModifiedDateTime": None, "baseUnit": "STK", "salesUnit": "STK", "purchaseUnit": "STK",
        "stockItem": False, "kitItem": False, "accountInformation": None, "costPriceStatistics": None,
        "crossReferences": [], "attachments": [], "attributes": [], "warehouseDetails": [], "inventoryUnits": [],
        "defaultWarehouse": None, "defaultIssueFrom": None, "defaultReceiptTo": None, "supplierDetails": [],
        "salesCategories": [], "packaging": None, "intrastat": None, "recommendedPrice": 0.0,
        "priceManagerID": None, "priceManager": None, "priceClass": None, "priceWorkgroupID": None,
        "priceClassID": None, "note": None, "timestamp": None, "errorInfo": None,
    }


def sales_order_template() -> Record:
    totals = {
        name: 0.0
        for base in ("orderTotal", "vatTaxableTotal", "vatExemptTotal", "taxTotal", "discountTotal")
        for name in (base, base + "InBaseCurrency")
    }
    return {
        "projectCD": None, "printDescriptionOnInvoice": False, "printNoteOnExternalDocuments": False,
        "printNoteOnInternalDocuments": False, "soBillingContact": contact_info(), "soBillingAddress": address(),
        "customerVATZone": None, "invoiceSeparately": False, "invoiceNbr": None, "invoiceDate": None,
        "terms": None, "dueDate": None, "cashDiscountDate": None, "postPeriod": None, "salesPerson": None,
        "commissionPercent": None, "commissionAmount": None, "commissionableAmount": None, "owner": None,
        "origOrderType": None, "origOrderNbr": None, "soShippingContact": contact_info(),
        "soShippingAddress": address(), "schedShipment": None, "shipSeparately": False,
        "shipComplete": "BackOrderAllowed", "cancelBy": None, "canceled": False, "preferredWarehouse": None,
        "shipVia": None, "fobPoint": None, "priority": 0, "shippingTerms": None, "shippingZone": None,
        "residentialDelivery": False, "saturdayDelivery": False, "insurance": False, "transactionType": None,
        "paymentMethod": None, "cashAccount": None, "paymentRef": None, "isRotRutDeductible": False,
        "emailed": False, "lines": [], "shipments": [], "orderType": "SO", "orderNo": None, "status": "Open",
        "hold": False, "date": None, "requestOn": None, "customerOrder": None, "customerRefNo": None,
        "customer": None, "contactId": None, "location": {"id": "MAIN", "name": "Primary Location"},
        "currency": None, "description": None, **totals, "exchangeRate": 1.0, "lastModifiedDateTime": None,
        "branchNumber": {"number": "1", "name": "Main branch"}, "note": None, "attachments": [], "errorInfo": None,
    }


def sales_order_line_template() -> Record:
    return {
        "invoiceNbr": None, "operation": "Issue", "freeItem": False, "requestedOn": None, "shipOn": None,
        "shipComplete": "BackOrderAllowed", "undershipThreshold": 100.0, "overshipThreshold": 100.0,
        "completed": False, "markForPO": False, "poSource": None, "lotSerialNbr": None, "expirationDate": None,
        "reasonCode": None, "salesPerson": None, "taxCategory": None, "commissionable": False, "alternateID": None,
        "projectTask": None, "projectTaskCd": None, "subaccount": None, "externalLink": None,
        "isRotRutDeductible": False, "lineNbr": None, "sortOrder": None, "inventory": None, "warehouse": None,
        "uom": None, "quantity": 1.0, "qtyOnShipments": 0.0, "openQty": 0.0, "unitCost": 0.0, "unitPrice": 0.0,
        "unitPriceInBaseCurrency": 0.0, "discountCode": None, "discountPercent": 0.0, "discountAmount": 0.0,
        "manualDiscount": False, "discUnitPrice": 0.0, "extPrice": 0.0, "unbilledAmount": 0.0,
        "lineDescription": None, "branchNumber": {"number": "1", "name": "Main branch"}, "note": None,
        "attachments": [],
    }


def customer_invoice_template() -> Record:
    totals = {
        name: 0.0
        for base in ("discountTotal", "detailTotal", "vatTaxableTotal", "vatExemptTotal")
        for name in (base, base + "InCurrency")
    }
    return {
        "creditTerms": None, "documentDueDate": None, "cashDiscountDate": None, "externalReference": None,
        "isRotRutDeductible": False, "exchangeRate": 1.0, "dunningLetterDate": None, "dunningLetterLevel": 0,
        "contact": None, "attachments": [], "taxDetails": [], "invoiceLines": [], "sendToAutoInvoice": False,
        "roundingDiff": 0.0, "customerVatZone": None, "startDate": None, "endDate": None,
        "accountingCostRef": None, "originatorDocRef": None, "contractDocRef": None, "childRecord": None,
        "directDebitMandate": None, "excludeDebtCollection": False, "debtCollection": None, "timeStamp": None,
        "hold": True, **totals, "salesPersonID": None, "salesPersonDescr": None, "salesPerson": None,
        "paymentReference": None, "invoiceAddress": address(), "invoiceContact": contact_info(),
        "applications": [], "dontPrint": True, "dontEmail": True, "revoked": False, "customer": None,
        "documentType": "Invoice", "referenceNumber": None, "postPeriod": None, "financialPeriod": None,
        "closedFinancialPeriod": None, "documentDate": None, "origInvoiceDate": None, "status": "Hold",
        "currencyId": None, "amount": 0.0, "amountInCurrency": 0.0, "balance": 0.0, "balanceInCurrency": 0.0,
        "cashDiscount": 0.0, "cashDiscountInCurrency": 0.0, "paymentMethod": None, "customerRefNumber": None,
        "invoiceText": None, "lastModifiedDateTime": None, "createdDateTime": None, "note": None,
        "vatTotal": 0.0, "vatTotalInCurrency": 0.0, "location": {"id": "MAIN", "name": "Primary Location"},
        "branchNumber": {"number": "1", "name": "Main branch"}, "cashAccount": None, "project": None,
        "account": None, "subaccount": None, "customerProject": None, "errorInfo": None,
    }


def invoice_line_template() -> Record:
    return {
        "termStartDate": None, "termEndDate": None, "isRotRutDeductible": False, "itemType": None,
        "typeOfWork": None, "deductableAmount": 0.0, "attachments": [], "projectTask": None, "lineType": None,
        "startDate": None, "endDate": None, "soShipmentNbr": None, "soOrderType": None, "soOrderNbr": None,
        "lineNumber": None, "inventoryNumber": None, "description": None, "quantity": 1.0, "unitPrice": 0.0,
        "unitPriceInCurrency": 0.0, "manualAmount": 0.0, "manualAmountInCurrency": 0.0, "amount": 0.0,
        "cost": 0.0, "amountInCurrency": 0.0, "account": None, "vatCode": None, "uom": None,
        "discountPercent": 0.0, "discountAmount": 0.0, "discountAmountInCurrency": 0.0, "manualDiscount": False,
        "subaccount": None, "salesperson": None, "seller": None, "deferralSchedule": 0, "deferralCode": None,
        "discountCode": None, "note": None, "branchNumber": {"number": "1", "name": "Main branch"},
        "externalLink": None,
    }


TEMPLATES = {
    "customer": customer_template,
    "contact": contact_template,
    "inventory": inventory_template,
    "salesorder": sales_order_template,
    "customerinvoice": customer_invoice_template,
}
LINE_TEMPLATES = {"salesorder": sales_order_line_template, "customerinvoice": invoice_line_template}
