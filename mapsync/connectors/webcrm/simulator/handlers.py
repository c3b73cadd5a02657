"""HTTP handlers of the webCRM simulator.

Lists are bare JSON arrays paged by ``Page`` (1..1,000,000) and ``Size`` (1..1000); a page past the
end is ``[]``. Chosen defaults (NOT CONFIRMED): ``Page=1``, ``Size=50``. ``GET
/QuotationLines/LinkedData`` has no paging (the spec lists no parameters) and returns everything.
POST answers 200 with the new id as a bare JSON number, PUT 200 with no body, DELETE 200 (quotation
lines and catalogue items only; others 405).

Error bodies (NOT CONFIRMED, chosen to look like ASP.NET Web API): 400 binding errors
``{"Message": "The request is invalid.", "ModelState": {"<dto>.<Field>": ["..."]}}``; other 400s and
404s ``{"Message": "..."}``; 405 ``{"Message": "The requested resource does not support http method
'DELETE'."}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mapsync.connectors.simkit import Request, Response, Router, empty_response, json_response
from mapsync.connectors.webcrm.simulator.auth import WebcrmAuth
from mapsync.connectors.webcrm.simulator.backend import BusinessError, NotFound, WebcrmBackend
from mapsync.connectors.webcrm.simulator.dtos import ENTITIES, ValidationError, fields, parse_timestamp
from mapsync.connectors.webcrm.simulator.queries import QueryError, linked_data_row, parse_query, run_query
from mapsync.connectors.webcrm.simulator.rules import DeadlockError

Handler = Callable[[Request], Response]
BackendOf = Callable[[Request], WebcrmBackend]  # the backend of the request's tenant
PATHS = {
    "organisation": "/Organisations",
    "person": "/Persons",
    "delivery": "/Deliveries",
    "quotation_line": "/QuotationLines",
    "catalogue_item": "/QuotationLines/LinkedData",
    "opportunity": "/Opportunities",
}
DTO_NAMES = {
    "organisation": "organisation",
    "person": "person",
    "delivery": "delivery",
    "quotation_line": "quotationLineDto",
    "catalogue_item": "linkedDataItemDto",
    "opportunity": "opportunityDto",
}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000


class BadRequest(Exception):
    def __init__(self, message: str, model_state: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.model_state = model_state


def message(status: int, text: str) -> Response:
    return json_response(status, {"Message": text})


def not_allowed(request: Request) -> Response:
    return message(405, f"The requested resource does not support http method '{request.method}'.")


def no_resource(request: Request) -> Response:
    return message(404, f"No HTTP resource was found that matches the request URI '{request.path}'.")


def guarded(handler: Handler) -> Handler:
    """Map the backend's exceptions to responses."""

    def run(request: Request) -> Response:
        try:
            return handler(request)
        except NotFound as exc:
            return message(404, str(exc))
        except BusinessError as exc:
            return message(400, str(exc))
        except ValidationError as exc:
            return json_response(400, {"Message": "The request is invalid.", "ModelState": {exc.field: [exc.message]}})
        except DeadlockError as exc:
            return message(500, str(exc))
        except QueryError as exc:
            return message(400, f"The query could not be run: {exc}")
        except BadRequest as exc:
            body: dict[str, Any] = {"Message": str(exc)}
            if exc.model_state:
                body["ModelState"] = exc.model_state
            return json_response(400, body)

    return run


def _int_arg(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.arg(name, ignore_case=True)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("The request is invalid.", {name: [f"The value '{raw}' is not valid for {name}."]}) from None
    if not 1 <= value <= maximum:
        raise BadRequest("The request is invalid.", {name: [f"The field {name} must be between 1 and {maximum}."]})
    return value


def page(request: Request, rows: list[Any]) -> list[Any]:
    number = _int_arg(request, "Page", 1, MAX_PAGE)
    size = _int_arg(request, "Size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    start = (number - 1) * size
    return rows[start : start + size]


def _record_id(request: Request, name: str = "id") -> int:
    try:
        return int(request.params[name])
    except ValueError:
        raise BadRequest(
            "The request is invalid.", {name: [f"The value '{request.params[name]}' is not valid."]}
        ) from None


def _body(request: Request, entity: str) -> Any:
    try:
        data = request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request is invalid.", {DTO_NAMES[entity]: [f"Invalid JSON: {exc}"]}) from None
    if not isinstance(data, dict):
        raise BadRequest("The request is invalid.", {DTO_NAMES[entity]: ["A JSON object is required."]})
    return data


def build_router(backend_of: BackendOf, auth: WebcrmAuth, *, organisation_post_returns_id: bool = True) -> Router:
    """The routes; every handler works on ``backend_of(request)``, the backend of the request's tenant."""
    router = Router()
    router.add("POST", "/Auth/ApiLogin", auth.api_login, public=True)
    router.add("POST", "/Auth/ApiRefresh", auth.api_refresh, public=True)
    router.add("GET", "/Auth", auth.who)
    router.add("GET", "/Queries", guarded(lambda r: _queries(backend_of(r), r)))
    _add_special(router, backend_of)
    for entity in ("catalogue_item", *[e for e in ENTITIES if e != "catalogue_item"]):
        _add_entity(router, backend_of, entity, organisation_post_returns_id)
    return router


def _add_entity(router: Router, backend_of: BackendOf, entity: str, organisation_returns_id: bool) -> None:
    path = PATHS[entity]

    def list_all(request: Request) -> Response:
        rows = backend_of(request).store.all(entity)
        return json_response(200, rows if entity == "catalogue_item" else page(request, rows))

    def get_one(request: Request) -> Response:
        return json_response(200, backend_of(request).get(entity, _record_id(request)))

    def create(request: Request) -> Response:
        new_id = backend_of(request).create(entity, _body(request, entity))
        if entity == "organisation" and not organisation_returns_id:
            return empty_response(200)
        return json_response(200, new_id)

    def replace(request: Request) -> Response:
        backend_of(request).replace(entity, _record_id(request), _body(request, entity))
        return empty_response(200)

    def delete(request: Request) -> Response:
        backend_of(request).delete(entity, _record_id(request))
        return empty_response(200)

    def delete_all(request: Request) -> Response:
        backend_of(request).delete_all(entity)
        return empty_response(200)

    router.add("GET", path, guarded(list_all))
    router.add("POST", path, guarded(create))
    if entity == "catalogue_item":
        router.add("DELETE", path, guarded(delete_all))
    router.add("GET", f"{path}/{{id}}", guarded(get_one))
    router.add("PUT", f"{path}/{{id}}", guarded(replace))
    router.add(
        "DELETE", f"{path}/{{id}}", guarded(delete) if entity in ("quotation_line", "catalogue_item") else not_allowed
    )


def _add_special(router: Router, backend_of: BackendOf) -> None:
    def by_link(entity: str, link_field: str) -> Handler:
        def handle(request: Request) -> Response:
            wanted = _record_id(request)
            rows = [r for r in backend_of(request).store.all(entity) if r.get(link_field) == wanted]
            return json_response(200, page(request, rows))

        return guarded(handle)

    def find_by_update_dates(request: Request) -> Response:
        try:
            start = parse_timestamp(request.params["start"])
            end = parse_timestamp(request.params["end"])
        except ValueError:
            raise BadRequest("The request is invalid.", {"startDate": ["The dates must be ISO 8601."]}) from None
        store = backend_of(request).store
        rows = [
            r
            for r in store.all("organisation")
            if start <= store.modified_at("organisation", r["OrganisationId"]) < end
        ]
        return json_response(200, page(request, rows))

    def convert(request: Request) -> Response:
        return json_response(200, backend_of(request).convert_to_delivery(_record_id(request)))

    router.add("GET", "/Organisations/FindByUpdateDates/{start}/{end}", guarded(find_by_update_dates))
    router.add("GET", "/Organisations/{id}/Persons", by_link("person", "PersonOrganisationId"))
    router.add("GET", "/Persons/ByOrganisation/{id}", by_link("person", "PersonOrganisationId"))
    router.add("GET", "/Deliveries/ByOrganisation/{id}", by_link("delivery", "DeliveryOrganisationId"))
    router.add("GET", "/Opportunities/ByOrganisation/{id}", by_link("opportunity", "OpportunityOrganisationId"))
    router.add("GET", "/Deliveries/{id}/QuotationLines", by_link("quotation_line", "QuotationLineOpportunityId"))
    router.add("GET", "/Opportunities/{id}/QuotationLines", by_link("quotation_line", "QuotationLineOpportunityId"))
    router.add("POST", "/Opportunities/{id}/ConvertToDelivery", guarded(convert))


def _queries(backend: WebcrmBackend, request: Request) -> Response:
    script = request.arg("script", ignore_case=True)
    if not script:
        raise BadRequest("The request is invalid.", {"script": ["The script parameter is required."]})
    query = parse_query(script)
    store = backend.store

    def rows_of(entity: str) -> list[Any]:
        if entity != "catalogue_item":
            return store.all(entity)
        entity_types = fields("catalogue_item")["QuotationLineLinkedDataItemEntityType"]["enum"]
        return [
            linked_data_row(
                item, entity_types, store.modified_at("catalogue_item", item["QuotationLineLinkedDataItemId"])
            )
            for item in store.all("catalogue_item")
        ]

    return json_response(200, page(request, run_query(query, rows_of)))
