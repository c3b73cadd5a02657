"""HTTP handlers of the Visma.net simulator (paths case-insensitive, as the real API).

- customer: ``GET/POST /v1/customer``, ``GET/PUT /v1/customer/{number}``, ``GET/PUT /v1/customer/internal/{id}``
- contact: ``GET/POST /v1/contact``, ``GET/PUT /v1/contact/{contactId}``
- inventory: ``GET/POST /v1/inventory``, ``GET/PUT /v1/inventory/{number}``, ``GET/PUT /v1/inventory/internal/{id}``
- sales order: ``GET/POST /v1/salesorder``, ``POST /v2/salesorder``, ``GET/PUT /v1/salesorder/{orderNbr}``,
  ``GET /v1/salesorder/{type}/{orderNbr}``,
  ``POST /v1|v2/salesorder/{orderNbr}/action/cancelSalesOrder`` (and ``reopenSalesOrder``)
- customer invoice: ``GET /v1/customerinvoice``, ``POST /v2/customerinvoice`` (and the deprecated ``POST /v1``),
  ``GET/PUT/DELETE /v1/customerinvoice/{number}``, ``POST /v1/customerinvoice/{number}/action/release``

- GET one: 200, the DTO, header ``ETag`` = the row version (``timeStamp``), unquoted (a choice).
- GET list: 200, a bare JSON array; each item has ``metadata`` (see ``listing``).
- POST: 201, **empty body** (a choice), ``Location: <base>/v1/<resource>/<id>`` (absolute URL, a choice).
- PUT: 204 (partial update; ``If-Match`` honoured, stale -> 412). DELETE: 204.
- Actions: 200 ``{"actionId": "<guid>", "actionResult": "Done"}`` (status code NOT CONFIRMED).
- Unknown path: 404, unsupported method on a known path: 405, both ``{"message": ...}`` as ASP.NET.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from mapsync.connectors.simkit import Request, Response, Router, answer_errors, empty_response, json_response
from mapsync.connectors.vismanet.simulator.auth import TOKEN_PATH, VismanetAuth
from mapsync.connectors.vismanet.simulator.backend import ID_FIELDS, VismanetBackend
from mapsync.connectors.vismanet.simulator.errors import document_error, ipp

Handler = Callable[[Request], Response]
BackendOf = Callable[[Request], VismanetBackend]  # the backend of the request's tenant
DOCUMENTS = frozenset({"salesorder", "customerinvoice"})


def no_resource(request: Request) -> Response:
    uri = f"{request.base_url()}{request.path}"
    return json_response(404, {"message": f"No HTTP resource was found that matches the request URI '{uri}'."})


def not_allowed(request: Request) -> Response:
    return json_response(405, {"message": f"The requested resource does not support http method '{request.method}'."})


def json_body(request: Request, resource: str) -> Any:
    try:
        data = request.json()
    except (ValueError, UnicodeDecodeError):
        data = ValueError
    if data is ValueError or not isinstance(data, dict):
        message = "The request is invalid: the body must be a JSON object."
        if resource in DOCUMENTS:
            raise document_error(message)
        raise ipp(400, "10400", message)
    return data


def build_router(backend_of: BackendOf, auth: VismanetAuth, *, max_page_size: Callable[[], int]) -> Router:
    """The routes; every handler works on ``backend_of(request)``, the backend of the request's tenant."""
    router = Router(ignore_case=True)
    router.add("POST", TOKEN_PATH, auth.token_endpoint, public=True)

    def one(resource: str, record: dict[str, Any], version: str) -> Response:
        return json_response(200, record, {"ETag": version})

    def add_resource(resource: str, *, post_paths: tuple[str, ...], internal: bool = False) -> None:
        path = f"/v1/{resource}"

        def list_all(request: Request) -> Response:
            limit = max_page_size()
            records, total = backend_of(request).list_records(resource, request.query, limit)
            meta = {"totalCount": total, "maxPageSize": limit}
            return json_response(200, [{**r, "metadata": meta} for r in records])

        def get_one(request: Request) -> Response:
            record, version = backend_of(request).get(resource, request.params["key"])
            return one(resource, record, version)

        def get_internal(request: Request) -> Response:
            record, version = backend_of(request).get_internal(resource, request.params["key"])
            return one(resource, record, version)

        def create(request: Request) -> Response:
            record = backend_of(request).create(resource, json_body(request, resource))
            key = quote(str(record[ID_FIELDS[resource]]), safe="")
            return empty_response(201, {"Location": f"{request.base_url()}{path}/{key}"})

        def update(request: Request) -> Response:
            data = json_body(request, resource)
            backend_of(request).update(resource, request.params["key"], data, if_match=request.header("If-Match"))
            return empty_response(204)

        def update_internal(request: Request) -> Response:
            backend = backend_of(request)
            record, _ = backend.get_internal(resource, request.params["key"])
            key = str(record[ID_FIELDS[resource]])
            backend.update(resource, key, json_body(request, resource), if_match=request.header("If-Match"))
            return empty_response(204)

        router.add("GET", path, answer_errors(list_all))
        for post_path in post_paths:
            router.add("POST", post_path, answer_errors(create))
        if internal:
            router.add("GET", f"{path}/internal/{{key}}", answer_errors(get_internal))
            router.add("PUT", f"{path}/internal/{{key}}", answer_errors(update_internal))
        router.add("GET", f"{path}/{{key}}", answer_errors(get_one))
        router.add("PUT", f"{path}/{{key}}", answer_errors(update))

    add_resource("customer", post_paths=("/v1/customer",), internal=True)
    add_resource("contact", post_paths=("/v1/contact",))
    add_resource("inventory", post_paths=("/v1/inventory",), internal=True)
    add_resource("salesorder", post_paths=("/v1/salesorder", "/v2/salesorder"))
    add_resource("customerinvoice", post_paths=("/v2/customerinvoice", "/v1/customerinvoice"))

    def get_typed_order(request: Request) -> Response:
        record, version = backend_of(request).get("salesorder", request.params["number"])
        if str(record.get("orderType", "")).upper() != request.params["type"].upper():
            raise ipp(404, "10404", f"Sales order {request.params['type']} {request.params['number']} not found.")
        return one("salesorder", record, version)

    router.add("GET", "/v1/salesorder/{type}/{number}", answer_errors(get_typed_order))

    def delete_invoice(request: Request) -> Response:
        backend_of(request).delete("customerinvoice", request.params["key"])
        return empty_response(204)

    router.add("DELETE", "/v1/customerinvoice/{key}", answer_errors(delete_invoice))

    def action(run: Callable[[VismanetBackend, str], Any]) -> Handler:
        def handle(request: Request) -> Response:
            if request.body.strip():
                json_body(request, "salesorder")  # an order update DTO may come along; it must be JSON
            run(backend_of(request), request.params["key"])
            return json_response(200, {"actionId": str(uuid.uuid4()), "actionResult": "Done", "errorInfo": None})

        return answer_errors(handle)

    router.add("POST", "/v1/customerinvoice/{key}/action/release", action(VismanetBackend.release_invoice))
    for version in ("v1", "v2"):
        cancel, reopen = action(VismanetBackend.cancel_order), action(VismanetBackend.reopen_order)
        router.add("POST", f"/{version}/salesorder/{{key}}/action/cancelSalesOrder", cancel)
        router.add("POST", f"/{version}/salesorder/{{key}}/action/reopenSalesOrder", reopen)
    return router

