"""Sends webhook deliveries over HTTP with an explicit, short timeout."""

from __future__ import annotations

import httpx

ERROR_LENGTH_MAX = 200


class HttpWebhookSender:
    def __init__(self, *, timeout_seconds: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(timeout=timeout_seconds, transport=transport, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"[:ERROR_LENGTH_MAX]
        return response.status_code, None

    def close(self) -> None:
        self._client.close()
