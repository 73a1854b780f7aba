"""What the payment adapters' tests share: references, and answers the sandboxes never give, for a mock transport."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


def new_reference() -> str:
    return f"order-{uuid4().hex}"


def raises(error: Exception) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return handle


def responds(status_code: int, content: bytes) -> Handler:
    return lambda request: httpx.Response(status_code, content=content)


# How every HTTP adapter fails when no answer comes (or a proxy answers for the provider), and whether the request
# may then have taken effect: the `outcome_unknown` of its `ProviderUnavailable`.
TRANSPORT_FAILURES: list[tuple[Handler, bool]] = [
    (raises(httpx.ConnectError("refused")), False),
    (raises(httpx.ConnectTimeout("connect")), False),
    (raises(httpx.ReadTimeout("read")), True),
    (raises(httpx.RemoteProtocolError("dropped")), True),
    (responds(502, b"<html>bad gateway</html>"), True),
]
