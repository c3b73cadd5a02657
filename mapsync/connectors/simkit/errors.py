"""Errors a simulator's backend or handlers raise to answer with the product's error response.

A product subclasses ``SimulatorError`` (its ``response`` is the product's error body);
``answer_errors(handler)`` turns any such error the handler raises into that response.
"""

from __future__ import annotations

from mapsync.connectors.simkit.routing import Handler, Request, Response


class SimulatorError(Exception):
    """An error with a ready answer; products implement ``response``."""

    def response(self) -> Response:
        raise NotImplementedError


def answer_errors(handler: Handler) -> Handler:
    """``handler``, answering any ``SimulatorError`` it raises with the error's response."""

    def run(request: Request) -> Response:
        try:
            return handler(request)
        except SimulatorError as exc:
            return exc.response()

    return run
