"""Fortnox error bodies and codes as the simulator sends them.

Real responses use two key casings (both recorded): not-found errors are capitalised
(``{"ErrorInformation": {"Error": 1, "Message": ..., "Code": 2000433}}``) and validation errors are
lower case (``{"ErrorInformation": {"error": 1, "message": ..., "code": 2000587}}``).

Codes marked *chosen* are NOT CONFIRMED by any source; the simulator picked them from an unused
range (2999xxx) so nobody mistakes them for real ones. Clients must not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapsync.connectors.simkit import Response, SimulatorError, json_response

# Confirmed codes (REFERENCE.md section 2, "Errors").
NOT_NUMERIC = 2000108
NOT_BOOLEAN = 2000134
BAD_CLIENT_SECRET = 2000310
BAD_ACCESS_TOKEN = 2000311
CUSTOMER_NOT_FOUND = 2000433
ARTICLE_NOT_FOUND = 2000428
ORDER_NOT_FOUND = 2000439
INVOICE_NOT_FOUND = 2000434
INVALID_FILTER = 2000587
INVALID_PARAMETER = 2000588
CUSTOMER_NUMBER_USED = 2000637
EMPTY_BODY = 2001392
INVALID_FIELD = 2001399
JSON_SYNTAX = 2002115

# Chosen codes (NOT CONFIRMED).
REQUIRED_FIELD = 2999001  # a required field is missing on create
TOO_LONG = 2999002  # value longer than the field allows
NUMBER_USED = 2999003  # article or document number already exists
INVOICE_BOOKED = 2999004  # PUT (or cancel) on a booked invoice: "Fakturan är bokförd och kan inte ändras."
WRONG_STATE = 2999005  # action not allowed in the document's state (cancelled, invoiced, not booked)
UNKNOWN_ROW = 2999006  # a RowId that is not on the document
METHOD_NOT_ALLOWED = 2999007  # e.g. DELETE /3/invoices/{n} (HTTP 405)
NO_SUCH_RESOURCE = 2999008  # a path the simulator does not serve (HTTP 404)
ORDER_INVOICE_ROWS = 2999009  # PUT with InvoiceRows on an invoice made from an order (simulator.rules)

NOT_FOUND = {
    "customer": (CUSTOMER_NOT_FOUND, "Kan inte hitta kunden."),
    "article": (ARTICLE_NOT_FOUND, "Kan inte hitta artikeln."),
    "order": (ORDER_NOT_FOUND, "Kan inte hitta ordern."),
    "invoice": (INVOICE_NOT_FOUND, "Kan inte hitta fakturan."),
}


@dataclass
class ApiError(SimulatorError):
    """An error the simulator answers with ``{"ErrorInformation": ...}``."""

    status: int
    code: int
    message: str
    capitalised: bool = False

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, capitalised=self.capitalised)


def error_response(status: int, code: int, message: str, *, capitalised: bool = False) -> Response:
    if capitalised:
        info = {"Error": 1, "Message": message, "Code": code}
    else:
        info = {"error": 1, "message": message, "code": code}
    return json_response(status, {"ErrorInformation": info})


def not_found(entity: str) -> ApiError:
    code, message = NOT_FOUND[entity]
    return ApiError(404, code, message, capitalised=True)


def bad_request(code: int, message: str) -> ApiError:
    return ApiError(400, code, message)
