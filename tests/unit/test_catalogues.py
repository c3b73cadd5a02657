"""Field catalogues: the loader, and the three shipped catalogues checked against the API material.

The reference material is read from copies in ``tests/fixtures/catalogue`` (see its README), never
from ``../shared``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mapsync.connectors.catalogue as catalogue_module
from mapsync.connectors.catalogue import CONNECTOR_NAMES, FIELD_TYPES, Catalogue, load_catalogue, parse_catalogue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "catalogue"
FORTNOX_RECORDED = FIXTURES / "fortnox"

SWAGGER_TYPES = {
    ("string", "date-time"): "datetime",
    ("string", None): "string",
    ("integer", "int32"): "integer",
    ("integer", "int64"): "integer",
    ("number", "double"): "number",
    ("boolean", None): "boolean",
}


def _json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _recorded_body(name: str, key: str) -> dict[str, Any]:
    body = _json(FORTNOX_RECORDED / name)[0]["response"]["body"]
    return body[key]


# --------------------------------------------------------------------------- parse_catalogue


def _doc(fields: dict[str, Any], **entity: Any) -> dict[str, Any]:
    return {"connector": "test", "entities": {"thing": {"id": "Id", "fields": fields, **entity}}}


def test_parse_minimal_entity_defaults() -> None:
    cat = parse_catalogue(_doc({"Id": {"type": "integer", "read_only": True}, "Name": None}))
    ent = cat.entity("thing")
    assert ent is not None
    assert ent.title == "thing"
    assert ent.id_field == "Id"
    assert ent.changed_since is True
    assert ent.line_of is None
    name = ent.field("Name")
    assert name is not None
    assert name.type == "string"  # a field without a spec is a string
    assert not name.read_only and not name.required_on_create
    assert ent.fields["Id"].read_only


def test_parse_unknown_type_raises() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        parse_catalogue(_doc({"Id": {"type": "integer"}, "When": {"type": "timestamp"}}))


def test_parse_missing_id_field_raises() -> None:
    with pytest.raises(ValueError, match="id field"):
        parse_catalogue(_doc({"Name": {"type": "string"}}))


def test_parse_range_expansion() -> None:
    cat = parse_catalogue(
        _doc({"Id": {"type": "integer"}, "Custom{1..3}": {"type": "string", "max_length": 50}})
    )
    ent = cat.entities["thing"]
    assert [n for n in ent.fields if n.startswith("Custom")] == ["Custom1", "Custom2", "Custom3"]
    assert ent.fields["Custom3"].max_length == 50
    assert "Custom4" not in ent.fields and "Custom{1..3}" not in ent.fields


def test_parse_nested_ranges_expand() -> None:
    cat = parse_catalogue(_doc({"Id": {"type": "integer"}, "R{1..2}C{1..2}": {"type": "number"}}))
    assert {n for n in cat.entities["thing"].fields if n != "Id"} == {"R1C1", "R1C2", "R2C1", "R2C2"}


def test_parse_line_entity_reference() -> None:
    data = {
        "connector": "test",
        "entities": {
            "order": {"id": "No", "fields": {"No": {}, "Rows": {"type": "array", "lines": "order_row"}}},
            "order_row": {
                "line_of": "order",
                "id": "RowId",
                "changed_since": False,
                "fields": {"RowId": {"type": "integer"}},
            },
        },
    }
    cat = parse_catalogue(data)
    assert cat.entities["order"].fields["Rows"].lines == "order_row"
    assert cat.entities["order_row"].line_of == "order"
    assert cat.entities["order_row"].changed_since is False


def test_parse_undefined_line_entity_raises() -> None:
    with pytest.raises(ValueError, match="line entity"):
        parse_catalogue(_doc({"Id": {}, "Rows": {"type": "array", "lines": "nowhere"}}))


def _referring(refers_to: str) -> dict[str, Any]:
    return {
        "connector": "test",
        "entities": {
            "item": {"id": "No", "fields": {"No": {}}},
            "order": {"id": "No", "fields": {"No": {}, "Customer": {"refers_to": "order"},
                                             "Rows": {"type": "array", "lines": "order_row"}}},
            "order_row": {"line_of": "order", "id": "RowId",
                          "fields": {"RowId": {"type": "integer"}, "Item": {"refers_to": refers_to},
                                     "Link": {"refers_to": "item", "write_only": True}}},
        },
    }


def test_parse_refers_to() -> None:
    cat = parse_catalogue(_referring("item"))
    row = cat.entities["order_row"]
    assert row.fields["Item"].refers_to == "item" and row.fields["RowId"].refers_to is None
    assert [(f.name, f.refers_to) for f in row.references] == [("Item", "item"), ("Link", "item")]
    assert [(f.name, f.lines) for f in cat.entities["order"].line_collections] == [("Rows", "order_row")]
    assert [f.name for f in cat.entities["order"].references] == ["Customer"]  # its own entity is allowed


def test_parse_refers_to_an_unknown_entity_raises() -> None:
    with pytest.raises(ValueError, match=r"order_row\.Item: refers_to entity 'article' is not defined"):
        parse_catalogue(_referring("article"))


def test_parse_refers_to_a_line_entity_raises() -> None:
    with pytest.raises(ValueError, match=r"order_row\.Item: refers_to entity 'order_row' is a line entity"):
        parse_catalogue(_referring("order_row"))


def test_parse_refers_to_from_a_collection_raises() -> None:
    data = _referring("item")
    data["entities"]["item"]["fields"]["Parts"] = {"type": "array", "refers_to": "item"}
    with pytest.raises(ValueError, match="holds an id, not an array"):
        parse_catalogue(data)


def test_parse_enum_wire_and_required() -> None:
    cat = parse_catalogue(
        _doc(
            {
                "Id": {},
                "Kind": {
                    "type": "string",
                    "enum": ["A", "B"],
                    "required_on_create": True,
                    "description": "kind",
                },
                "Qty": {"type": "number", "wire": "string"},
            }
        )
    )
    ent = cat.entities["thing"]
    assert ent.fields["Kind"].enum == ("A", "B")
    assert ent.fields["Kind"].description == "kind"
    assert ent.required_on_create == ("Kind",)
    assert ent.fields["Qty"].wire == "string"


def test_parse_write_only_fields_are_not_readable() -> None:
    cat = parse_catalogue(_doc({"Id": {}, "LinkId": {"type": "integer", "write_only": True},
                                "address.city": {}}))
    ent = cat.entities["thing"]
    assert ent.fields["LinkId"].write_only and not ent.fields["Id"].write_only
    assert ent.readable_fields == {"Id", "address"}


def test_load_catalogue_unknown_connector() -> None:
    with pytest.raises(KeyError):
        load_catalogue("salesforce")


# --------------------------------------------------------------------------- all shipped catalogues


@pytest.mark.parametrize("connector", CONNECTOR_NAMES)
def test_catalogue_loads_and_is_consistent(connector: str) -> None:
    cat = load_catalogue(connector)
    assert isinstance(cat, Catalogue)
    assert cat.connector == connector
    assert cat.entities
    for ent in cat.entities.values():
        assert ent.title and ent.title != ent.name, f"{connector}.{ent.name} has no title"
        assert ent.id_field in ent.fields
        assert ent.fields[ent.id_field].description, f"{connector}.{ent.name}: id without description"
        if ent.line_of is not None:
            parent = cat.entities[ent.line_of]
            assert any(f.lines == ent.name for f in parent.fields.values()), ent.name
            assert ent.changed_since is False
        for f in ent.fields.values():
            assert f.type in FIELD_TYPES
            assert "{" not in f.name and "}" not in f.name, f.name
            if f.lines is not None:
                assert f.type == "array"
                assert cat.entities[f.lines].line_of == ent.name
            if f.enum is not None:
                assert f.enum and all(isinstance(v, str) for v in f.enum), f.name
            assert f.wire in (None, "string")
            assert f.max_length is None or f.max_length > 0
            if f.refers_to is not None:  # parse_catalogue checked the entity; the value is that entity's id
                referred = cat.entities[f.refers_to]
                assert f.type == referred.fields[referred.id_field].type, f"{ent.name}.{f.name}"


@pytest.mark.parametrize("connector", CONNECTOR_NAMES)
def test_catalogue_file_names_its_sources(connector: str) -> None:
    path = Path(catalogue_module.__file__).parent / connector / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#")
    assert "REFERENCE.md" in text and "Sources:" in text


# --------------------------------------------------------------------------- webCRM

WEBCRM_ENTITIES = {
    "organisation": ("OrganisationDto", "OrganisationId"),
    "person": ("PersonDto", "PersonId"),
    "delivery": ("DeliveryDto", "DeliveryId"),
    "opportunity": ("OpportunityDto", "OpportunityId"),
    "quotation_line": ("QuotationLineDto", "QuotationLineId"),
    "catalogue_item": ("QuotationLineLinkedDataItemDto", "QuotationLineLinkedDataItemId"),
}


@pytest.fixture(scope="module")
def swagger_defs() -> dict[str, dict[str, dict[str, Any]]]:
    defs: dict[str, dict[str, dict[str, Any]]] = _json(FIXTURES / "webcrm_swagger_dto_properties.json")[
        "definitions"
    ]
    return defs


@pytest.mark.parametrize("entity", sorted(WEBCRM_ENTITIES))
def test_webcrm_has_every_swagger_property(entity: str, swagger_defs: dict[str, Any]) -> None:
    dto, id_field = WEBCRM_ENTITIES[entity]
    ent = load_catalogue("webcrm").entities[entity]
    assert ent.id_field == id_field
    assert ent.fields[id_field].read_only
    props = swagger_defs[dto]
    assert set(props) <= set(ent.fields), sorted(set(props) - set(ent.fields))
    for name, prop in props.items():
        f = ent.fields[name]
        assert f.type == SWAGGER_TYPES[(prop["type"], prop.get("format"))], name
        assert f.max_length == prop.get("maxLength"), name
        assert f.enum == (tuple(prop["enum"]) if "enum" in prop else None), name


def test_webcrm_has_nothing_beyond_the_swagger(swagger_defs: dict[str, Any]) -> None:
    cat = load_catalogue("webcrm")
    for entity, (dto, _) in WEBCRM_ENTITIES.items():
        known = set(swagger_defs[dto])
        if entity == "quotation_line":
            known |= set(swagger_defs["QuotationLineUpdateDto"])
        assert set(cat.entities[entity].fields) == known, entity


def test_webcrm_timestamps_and_authors_are_read_only() -> None:
    for ent in load_catalogue("webcrm").entities.values():
        for f in ent.fields.values():
            if f.name.endswith(("CreatedAt", "UpdatedAt", "CreatedBy", "UpdatedBy")):
                assert f.read_only, f.name


def test_webcrm_write_only_fields_are_the_simulators() -> None:
    from mapsync.connectors.webcrm.simulator.dtos import ENTITIES, write_only_fields

    cat = load_catalogue("webcrm")
    for entity in ENTITIES:
        flagged = {f.name for f in cat.entities[entity].fields.values() if f.write_only}
        assert flagged == set(write_only_fields(entity)), entity


def test_webcrm_range_expansion() -> None:
    cat = load_catalogue("webcrm")
    org = cat.entities["organisation"].fields
    assert "OrganisationCustom15" in org and "OrganisationCustom16" not in org
    assert "OrganisationPlus20" in org and "OrganisationPlus21" not in org
    assert "OrganisationCustom0" not in org
    assert all(org[f"OrganisationExtraCustom{i}"].max_length == 50 for i in range(1, 9))
    assert "OrganisationExtraCustom9" not in org
    assert org["OrganisationXText8"].max_length == 50
    assert org["OrganisationXInt8"].type == "integer"
    assert org["OrganisationXDate2"].type == "datetime"
    person = cat.entities["person"].fields
    assert [person[f"PersonCheckMark{i}"].type for i in range(1, 11)] == ["boolean"] * 10
    assert "PersonCheckMark11" not in person
    delivery = cat.entities["delivery"].fields
    assert "DeliveryCustom15" in delivery and "DeliveryPlus20" in delivery
    assert "DeliveryPlus21" not in delivery


def test_webcrm_key_facts() -> None:
    cat = load_catalogue("webcrm")
    delivery = cat.entities["delivery"]
    assert delivery.fields["DeliveryStatus"].enum == (
        "New",
        "Planned",
        "OnGoing",
        "Completed",
        "GeneralDelivery",
    )
    assert delivery.fields["DeliveryOrderDate"].type == "datetime"
    assert delivery.fields["DeliveryOrderValue"].type == "number"
    line = cat.entities["quotation_line"]
    assert line.line_of is None  # a top-level entity in webCRM
    assert line.fields["QuotationLineOpportunityId"].type == "integer"
    assert line.fields["QuotationLineLinkedDataId"].type == "integer"
    item = cat.entities["catalogue_item"]
    assert [item.fields[f"QuotationLineLinkedDataItemData{i}"].type for i in range(1, 10)] == ["string"] * 9
    assert item.fields["QuotationLineLinkedDataItemEntityType"].enum is not None
    assert cat.entities["organisation"].fields["OrganisationName"].max_length == 200


# --------------------------------------------------------------------------- Fortnox

FORTNOX_FULL = [
    ("customer", "customers__find_id_1.json", "Customer"),
    ("article", "articles__find_id_1.json", "Article"),
    ("order", "orders__find_id_1.json", "Order"),
    ("invoice", "invoices__find_id_1.json", "Invoice"),
    ("order", "orders__save_with_nested_model.json", "Order"),
    ("invoice", "invoices__save_with_nested_model.json", "Invoice"),
]


@pytest.mark.parametrize(("entity", "fixture", "key"), FORTNOX_FULL)
def test_fortnox_has_every_recorded_key(entity: str, fixture: str, key: str) -> None:
    ent = load_catalogue("fortnox").entities[entity]
    record = _recorded_body(fixture, key)
    missing = sorted(k for k in record if k != "@url" and k not in ent.fields)
    assert not missing, missing
    for k, v in record.items():
        if isinstance(v, dict):  # nested objects are also listed member by member
            assert ent.fields[k].type == "object"
            assert {f"{k}.{sub}" for sub in v} <= set(ent.fields), k


@pytest.mark.parametrize(
    ("entity", "fixture", "key", "rows"),
    [
        ("order_row", "orders__save_with_nested_model.json", "Order", "OrderRows"),
        ("invoice_row", "invoices__save_with_nested_model.json", "Invoice", "InvoiceRows"),
    ],
)
def test_fortnox_has_every_recorded_row_key(entity: str, fixture: str, key: str, rows: str) -> None:
    cat = load_catalogue("fortnox")
    ent = cat.entities[entity]
    parent = cat.entities[ent.line_of or ""]
    assert parent.fields[rows].lines == entity
    recorded_rows = _recorded_body(fixture, key)[rows]
    assert recorded_rows
    for row in recorded_rows:
        assert set(row) <= set(ent.fields), sorted(set(row) - set(ent.fields))


def test_fortnox_string_wire_values_are_marked() -> None:
    """Every recorded value that is a string for a non-string field must be declared ``wire: string``."""
    cat = load_catalogue("fortnox")
    checks: list[tuple[str, dict[str, Any]]] = [(e, _recorded_body(f, k)) for e, f, k in FORTNOX_FULL]
    checks.append(
        ("order_row", _recorded_body("orders__save_with_nested_model.json", "Order")["OrderRows"][0])
    )
    checks.append(
        ("invoice_row", _recorded_body("invoices__save_with_nested_model.json", "Invoice")["InvoiceRows"][0])
    )
    for entity, record in checks:
        ent = cat.entities[entity]
        for k, v in record.items():
            f = ent.fields.get(k)
            if f is None or v is None or v == "":
                continue
            if f.type in ("number", "integer", "boolean"):
                if isinstance(v, str):
                    assert f.wire == "string", f"{entity}.{k}"
                else:
                    assert isinstance(v, int | float), f"{entity}.{k}"


def test_fortnox_key_facts() -> None:
    cat = load_catalogue("fortnox")
    customer = cat.entities["customer"]
    assert customer.id_field == "CustomerNumber"
    assert customer.required_on_create == ("Name",)
    assert customer.fields["Type"].enum == ("PRIVATE", "COMPANY")
    assert customer.fields["VATType"].enum is not None
    assert customer.fields["Country"].read_only
    assert customer.fields["CountryCode"].max_length == 2
    assert customer.fields["ZipCode"].max_length == 10
    assert customer.fields["WWW"].max_length == 128
    assert 60 <= len(customer.fields) <= 80

    article = cat.entities["article"]
    assert article.id_field == "ArticleNumber"
    assert article.required_on_create == ("Description",)
    for name in ("SalesPrice", "DisposableQuantity", "ReservedQuantity", "StockValue"):
        assert article.fields[name].read_only, name
    assert article.fields["Type"].enum == ("STOCK", "SERVICE")

    order = cat.entities["order"]
    assert order.id_field == "DocumentNumber"
    assert order.required_on_create == ("CustomerNumber",)
    for name in ("Cancelled", "InvoiceReference", "OrderType", "Total", "TotalVAT", "Net", "Gross", "Sent"):
        assert order.fields[name].read_only, name
    assert order.fields["OrderRows"].lines == "order_row"
    row = cat.entities["order_row"]
    assert row.line_of == "order" and row.id_field == "RowId"
    for name in ("OrderedQuantity", "DeliveredQuantity"):
        assert (row.fields[name].type, row.fields[name].wire) == ("number", "string")

    invoice = cat.entities["invoice"]
    assert invoice.id_field == "DocumentNumber"
    assert invoice.required_on_create == ("CustomerNumber",)
    for name in (
        "Booked",
        "Cancelled",
        "Sent",
        "Credit",
        "CreditInvoiceReference",
        "Balance",
        "OrderReference",
        "Total",
        "TotalVAT",
        "VoucherNumber",
        "VoucherSeries",
        "VoucherYear",
    ):
        assert invoice.fields[name].read_only, name
    assert (invoice.fields["Credit"].type, invoice.fields["Credit"].wire) == ("boolean", "string")
    assert invoice.fields["InvoiceRows"].lines == "invoice_row"
    assert cat.entities["invoice_row"].line_of == "invoice"
    assert cat.entities["invoice_row"].id_field == "RowId"
    references = {(e.name, f.name): f.refers_to for e in cat.entities.values() for f in e.references}
    assert references == {("order_row", "ArticleNumber"): "article", ("invoice_row", "ArticleNumber"): "article",
                          ("order", "CustomerNumber"): "customer", ("invoice", "CustomerNumber"): "customer"}


# --------------------------------------------------------------------------- Visma.net

VISMA_ENTITIES = {
    "customer": ("CustomerDto", "number"),
    "contact": ("ContactDto", "contactId"),
    "inventory_item": ("InventoryDto", "inventoryNumber"),
    "sales_order": ("SalesOrderDto", "orderNo"),
    "sales_order_line": ("SalesOrderLineDto", "lineNbr"),
    "customer_invoice": ("CustomerInvoiceDto", "referenceNumber"),
    "customer_invoice_line": ("CustomerInvoiceLineDto", "lineNumber"),
}


@pytest.mark.parametrize("entity", sorted(VISMA_ENTITIES))
def test_visma_has_every_read_dto_field(entity: str) -> None:
    dto, id_field = VISMA_ENTITIES[entity]
    names = _json(FIXTURES / "visma_read_dto_fields.json")["dtos"][dto]
    ent = load_catalogue("vismanet").entities[entity]
    assert ent.id_field == id_field
    assert set(names) <= set(ent.fields), sorted(set(names) - set(ent.fields))


def test_visma_dotted_paths_have_their_parent_objects() -> None:
    for ent in load_catalogue("vismanet").entities.values():
        for name in ent.fields:
            if "." in name:
                parent = name.rsplit(".", 1)[0]
                assert ent.fields[parent].type == "object", f"{ent.name}.{name}"


def test_visma_key_fields() -> None:
    cat = load_catalogue("vismanet")
    customer = cat.entities["customer"].fields
    for name in (
        "mainAddress.addressLine1",
        "mainAddress.postalCode",
        "mainAddress.city",
        "mainAddress.country.id",
        "mainContact.email",
        "mainContact.phone1",
        "mainContact.web",
        "invoiceAddress.addressLine1",
        "invoiceContact.email",
        "deliveryAddress.city",
        "creditTerms.id",
        "creditTerms.description",
        "customerClass.id",
        "vatZone.id",
        "corporateId",
        "vatRegistrationId",
        "currencyId",
        "name",
    ):
        assert name in customer, name
    assert customer["status"].enum == ("Active", "OnHold", "CreditHold", "Inactive", "OneTime")
    for name in (
        "internalId",
        "lastModifiedDateTime",
        "createdDateTime",
        "timeStamp",
        "creditTerms.description",
    ):
        assert customer[name].read_only, name
    assert not customer["creditTerms.id"].read_only

    contact = cat.entities["contact"].fields
    for name in (
        "displayName",
        "firstName",
        "lastName",
        "email",
        "phone1",
        "phone2",
        "phone3",
        "businessAccount",
        "active",
        "position",
    ):
        assert name in contact, name
    assert contact["title"].enum == ("Doctor", "Miss", "Mr", "Mrs", "Ms", "Prof")

    item = cat.entities["inventory_item"].fields
    for name in (
        "description",
        "baseUnit",
        "salesUnit",
        "defaultPrice",
        "currentCost",
        "lastCost",
        "vatCode.id",
    ):
        assert name in item, name
    assert item["status"].enum is not None and item["type"].enum is not None

    order = cat.entities["sales_order"]
    for name in (
        "orderType",
        "date",
        "requestOn",
        "customer.number",
        "invoiceNbr",
        "canceled",
        "hold",
        "currency",
        "description",
    ):
        assert name in order.fields, name
    assert order.fields["status"].read_only and order.fields["status"].enum is not None
    assert order.fields["invoiceDate"].read_only
    assert order.fields["lines"].lines == "sales_order_line"
    line = cat.entities["sales_order_line"]
    assert line.line_of == "sales_order"
    for name in ("inventory.number", "quantity", "unitPrice", "discountPercent", "lineDescription", "uom"):
        assert name in line.fields, name

    invoice = cat.entities["customer_invoice"]
    assert invoice.fields["status"].enum == (
        "Hold",
        "Balanced",
        "Voided",
        "Scheduled",
        "Open",
        "Closed",
        "PendingPrint",
        "PendingEmail",
        "CreditHold",
        "CcHold",
        "Reserved",
    )
    assert invoice.fields["status"].read_only and invoice.fields["balance"].read_only
    for name in (
        "documentType",
        "customer.number",
        "documentDate",
        "documentDueDate",
        "currencyId",
        "creditTerms.id",
        "amount",
        "invoiceText",
    ):
        assert name in invoice.fields, name
    assert invoice.fields["invoiceLines"].lines == "customer_invoice_line"
    inv_line = cat.entities["customer_invoice_line"]
    assert inv_line.line_of == "customer_invoice"
    for name in (
        "inventoryNumber",
        "description",
        "quantity",
        "unitPrice",
        "discountPercent",
        "uom",
        "vatCode.id",
    ):
        assert name in inv_line.fields, name
    references = {(e.name, f.name): f.refers_to for e in cat.entities.values() for f in e.references}
    assert references == {("sales_order_line", "inventory.number"): "inventory_item",
                          ("customer_invoice_line", "inventoryNumber"): "inventory_item",
                          ("sales_order", "customer.number"): "customer",
                          ("customer_invoice", "customer.number"): "customer"}


def test_webcrm_refers_to_nothing_readable() -> None:
    # QuotationLineLinkedDataId names a catalogue item but is write-only: no snapshot could follow it
    assert not [f.name for e in load_catalogue("webcrm").entities.values() for f in e.references]


def test_a_catalogue_is_read_once_by_threads_asking_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` starts many passes at once: they wait for one read instead of each parsing the YAML."""
    import threading
    import time

    module = catalogue_module
    real = module._load_yaml
    reads: list[str] = []

    def slow_load(stream: Any) -> Any:
        reads.append(stream.name)
        time.sleep(0.05)  # a wide window for the others to arrive
        return real(stream)

    monkeypatch.setattr(module, "_catalogues", {})
    monkeypatch.setattr(module, "_load_yaml", slow_load)
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(module.load_catalogue("fortnox"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1 and len(found) == 8 and all(c is found[0] for c in found)
