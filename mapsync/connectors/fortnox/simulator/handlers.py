"""HTTP handlers of the Fortnox simulator: ``/3/{customers,articles,orders,invoices}`` and actions.

Wrappers as the real API: requests and single responses are ``{"Customer": {...}}``; lists are
``{"MetaInformation": {...}, "Customers": [list items]}``. POST answers 201 with the full record,
PUT 200, DELETE 204 (customers and articles only; orders and invoices -> 405).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mapsync.connectors.fortnox.simulator.auth import FortnoxAuth
from mapsync.connectors.fortnox.simulator.backend import FortnoxBackend
from mapsync.connectors.fortnox.simulator.errors import (
    EMPTY_BODY,
    JSON_SYNTAX,
    METHOD_NOT_ALLOWED,
    NO_SUCH_RESOURCE,
    bad_request,
    error_response,
)
from mapsync.connectors.fortnox.simulator.store import ENTITIES
from mapsync.connectors.fortnox.simulator.templates import (
    LIST_WRAPPERS,
    PATHS,
    WRAPPERS,
    full_record,
    list_item,
)
from mapsync.connectors.simkit import Request, Response, Router, answer_errors, empty_response, json_response

Handler = Callable[[Request], Response]
BackendOf = Callable[[Request], FortnoxBackend]  # the backend of the request's tenant


def wrapped_body(request: Request, wrapper: str) -> dict[str, Any]:
    """The object inside ``{wrapper: {...}}``; 2001392 when empty/unwrapped, 2002115 on bad JSON."""
    if not request.body.strip():
        raise bad_request(EMPTY_BODY, "Ingen eller felaktig data skickades i anropet.")
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise bad_request(JSON_SYNTAX, "Syntaxfel i JSON-datan.") from None
    if not isinstance(data, dict) or not isinstance(data.get(wrapper), dict):
        raise bad_request(EMPTY_BODY, "Ingen eller felaktig data skickades i anropet.")
    inner: dict[str, Any] = data[wrapper]
    return inner


def method_not_allowed(request: Request) -> Response:
    return error_response(405, METHOD_NOT_ALLOWED, f"Metoden {request.method} stöds inte för resursen.")


def no_such_resource(request: Request) -> Response:
    return error_response(404, NO_SUCH_RESOURCE, f"Resursen {request.path} finns inte.")


def build_router(backend_of: BackendOf, auth: FortnoxAuth) -> Router:
    """The routes; every handler works on ``backend_of(request)``, the backend of the request's tenant."""
    router = Router()
    router.add("POST", "/oauth-v1/token", auth.token_endpoint, public=True)
    for entity in ENTITIES:
        _add_entity(router, backend_of, entity)

    def action(entity: str, run: Callable[[FortnoxBackend, str], dict[str, Any]]) -> Handler:
        def handle(request: Request) -> Response:
            record = run(backend_of(request), request.params["number"])
            return json_response(200, {WRAPPERS[entity]: full_record(entity, record, request.base_url())})

        return answer_errors(handle)

    router.add("PUT", "/3/orders/{number}/createinvoice", action("order", FortnoxBackend.order_create_invoice))
    router.add("PUT", "/3/orders/{number}/cancel", action("order", FortnoxBackend.order_cancel))
    router.add("PUT", "/3/invoices/{number}/bookkeep", action("invoice", FortnoxBackend.invoice_bookkeep))
    router.add("PUT", "/3/invoices/{number}/cancel", action("invoice", FortnoxBackend.invoice_cancel))
    router.add("PUT", "/3/invoices/{number}/credit", action("invoice", FortnoxBackend.invoice_credit))

    def invoice_payment(request: Request) -> Response:
        payment = backend_of(request).invoice_payment(wrapped_body(request, "InvoicePayment"))
        return json_response(201, {"InvoicePayment": payment})

    router.add("POST", "/3/invoicepayments", answer_errors(invoice_payment))
    return router


def _add_entity(router: Router, backend_of: BackendOf, entity: str) -> None:
    path, wrapper = PATHS[entity], WRAPPERS[entity]

    def single(
        status: int, request: Request, record: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        return json_response(status, {wrapper: full_record(entity, record, request.base_url())}, headers)

    def list_all(request: Request) -> Response:
        records, meta = backend_of(request).list(entity, request.query)
        url = request.base_url()
        return json_response(
            200, {"MetaInformation": meta, LIST_WRAPPERS[entity]: [list_item(entity, r, url) for r in records]}
        )

    def get_one(request: Request) -> Response:
        return single(200, request, backend_of(request).get(entity, request.params["number"]))

    def create(request: Request) -> Response:
        record = backend_of(request).create(entity, wrapped_body(request, wrapper))
        return single(201, request, record, {"Location": path})

    def update(request: Request) -> Response:
        record = backend_of(request).update(entity, request.params["number"], wrapped_body(request, wrapper))
        return single(200, request, record)

    def delete(request: Request) -> Response:
        backend_of(request).delete(entity, request.params["number"])
        return empty_response(204)

    router.add("GET", f"/3/{path}", answer_errors(list_all))
    router.add("POST", f"/3/{path}", answer_errors(create))
    router.add("GET", f"/3/{path}/{{number}}", answer_errors(get_one))
    router.add("PUT", f"/3/{path}/{{number}}", answer_errors(update))
    if entity in ("customer", "article"):
        router.add("DELETE", f"/3/{path}/{{number}}", answer_errors(delete))
    else:
        router.add("DELETE", f"/3/{path}/{{number}}", method_not_allowed)
