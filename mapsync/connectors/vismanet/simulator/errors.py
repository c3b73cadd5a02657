"""Error responses of the Visma.net simulator, in the two shapes seen from the real API.

- **IPPException** [V9]: ``{"ExceptionType": "IPPException", "ExceptionMessage": ...,
  "ExceptionFaultCode": "12027", "ExceptionMessageID": "12027_<guid>", "ExceptionDetails": ""}``;
- **message** [V10]: ``{"message": "VismaId: <guid>. Error creating document. Error: ..."}``.

Which endpoint answers with which shape is NOT CONFIRMED. The simulator uses (a choice):

- IPPException for authorisation/licence problems, bad query parameters and the master data
  resources (customer, contact, inventory) - fault codes below are the simulator's own, except 12027;
- ``{"message": "VismaId: ..."}`` for documents (sales orders, customer invoices: validation, locked
  documents) and for a stale ``If-Match`` (412);
- ASP.NET's ``{"message": ...}`` for routing (404/405) and for a missing/invalid bearer token (401).
"""

from __future__ import annotations

import uuid

from mapsync.connectors.simkit import Response, SimulatorError, json_response

NO_LICENCE = "12027"  # "No license for this company." (CONFIRMED [V9])
INVALID_PARAMETER = "12002"  # chosen (the legacy ipp-company-id error used 12002)
NOT_FOUND = "10404"  # chosen
VALIDATION = "10400"  # chosen
DUPLICATE = "10409"  # chosen


def ipp_body(code: str, message: str) -> dict[str, str]:
    return {
        "ExceptionType": "IPPException",
        "ExceptionMessage": message,
        "ExceptionFaultCode": code,
        "ExceptionMessageID": f"{code}_{uuid.uuid4()}",
        "ExceptionDetails": "",
    }


class ApiError(SimulatorError):
    """Raised by the backend; handlers turn it into the response (``mapsync.connectors.simkit.answer_errors``)."""

    def __init__(self, status: int, message: str, *, code: str | None = None, visma_id: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.visma_id = visma_id

    def response(self) -> Response:
        if self.code is not None:
            return json_response(self.status, ipp_body(self.code, self.message))
        text = f"VismaId: {uuid.uuid4()}. {self.message}" if self.visma_id else self.message
        return json_response(self.status, {"message": text})


def ipp(status: int, code: str, message: str) -> ApiError:
    """An error answered with the IPPException body."""
    return ApiError(status, message, code=code)


def document_error(message: str, status: int = 400) -> ApiError:
    """An error answered with ``{"message": "VismaId: <guid>. <message>"}``."""
    return ApiError(status, message, visma_id=True)


def not_found(what: str, key: str, *, document: bool = False) -> ApiError:
    text = f"{what} {key} not found."
    return document_error(text, 404) if document else ipp(404, NOT_FOUND, text)


def validation(message: str, *, document: bool = False, creating: bool = True) -> ApiError:
    if document:
        verb = "creating" if creating else "updating"
        return document_error(f"Error {verb} document. Error: {message}")
    return ipp(400, VALIDATION, message)
