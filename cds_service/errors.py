"""JSON error responses: every refusal is a small JSON body, never HTML or a traceback.

`ApiError` is raised anywhere in the HTTP layer; the handlers registered by `register(app)` turn it
(and every werkzeug HTTPException: 404, 405, 413, 415, ...) into `{"error": ..., "details": [...]}`.
`PrefetchUnavailable` becomes the spec's 412 with an OperationOutcome body.
"""
from __future__ import annotations

import logging
from typing import Iterable

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger("cds_service.errors")


class ApiError(Exception):
    """A client error with a status code and a list of specific problems."""

    def __init__(self, status: int, error: str, details: Iterable[str] = ()) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = list(details)

    def response(self):
        body: dict = {"error": self.error}
        if self.details:
            body["details"] = self.details
        resp = jsonify(body)
        resp.status_code = self.status
        return resp


class PrefetchUnavailable(Exception):
    """Required data was neither prefetched nor obtainable from the FHIR server (spec: 412)."""

    def __init__(self, keys: Iterable[str], reasons: Iterable[str] = ()) -> None:
        self.keys = tuple(keys)
        self.reasons = tuple(reasons)
        super().__init__(f"required prefetch unavailable: {', '.join(self.keys)}")

    def operation_outcome(self) -> dict:
        issues = []
        for key in self.keys:
            issues.append({
                "severity": "error",
                "code": "incomplete",
                "diagnostics": f"Required prefetch '{key}' was not provided and could not be "
                               f"retrieved from the FHIR server.",
                "expression": [f"prefetch.{key}"],
            })
        for reason in self.reasons:
            issues.append({"severity": "information", "code": "informational", "diagnostics": reason})
        return {"resourceType": "OperationOutcome", "issue": issues}

    def response(self):
        resp = jsonify(self.operation_outcome())
        resp.status_code = 412
        return resp


# short, client-facing descriptions of the standard errors
_MESSAGES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported media type: send application/json",
    500: "internal error",
    503: "service unavailable",
}


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return exc.response()

    @app.errorhandler(PrefetchUnavailable)
    def _prefetch(exc: PrefetchUnavailable):
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = exc.code or 500
        body = {"error": _MESSAGES.get(code, (exc.name or "error").lower())}
        resp = jsonify(body)
        resp.status_code = code
        if code == 405 and exc.get_response().headers.get("Allow"):
            resp.headers["Allow"] = exc.get_response().headers["Allow"]
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return _http(exc)
        log.exception("unhandled error")
        resp = jsonify({"error": "internal error"})
        resp.status_code = 500
        return resp
