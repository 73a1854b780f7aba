"""Refuse request bodies over a size limit, whether announced by Content-Length or streamed in chunks."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from topup.entrypoints.api.errors import error_response

TOO_LARGE = "The request body is too large."


class BodyLimit:
    def __init__(self, app: ASGIApp, *, bytes_max: int) -> None:
        self.app = app
        self.bytes_max = bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.bytes_max):
            await error_response(413, "payload_too_large", TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.bytes_max:
                    # FastAPI lets an HTTPException from reading the body through; our handler answers 413.
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)
