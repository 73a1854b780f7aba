"""One place that turns errors into `{"error": {"code", "message", "details"?}}` with a 4xx status."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from topup.domain.errors import DomainError, ErrorKind

logger = logging.getLogger("topup.api")

STATUS_BY_KIND = {
    ErrorKind.INVALID: 422,
    ErrorKind.REFUSED: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHORISED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAVAILABLE: 503,
}
STATUS_BY_CODE = {"idempotency_key_missing": 400, "idempotency_key_invalid": 400}
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(details, default=str))  # type: ignore[no-any-return]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, error: DomainError) -> JSONResponse:
        status = STATUS_BY_CODE.get(error.code, STATUS_BY_KIND[error.kind])
        return error_response(status, error.code, error.message, _jsonable(error.details))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        details = [
            {
                "field": ".".join(str(part) for part in problem.get("loc", ()) if part != "body"),
                "problem": problem.get("msg", ""),
                "type": problem.get("type", ""),
            }
            for problem in problems[:20]
        ]
        return error_response(
            422, "validation_error", "Some fields are missing, unknown or of the wrong type.", details
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(500, "internal_error", "Something went wrong on our side; nothing was charged twice.")
