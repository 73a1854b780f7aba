"""What the payment adapters that speak HTTP share: their httpx client, and what a failed request says.

A request that fails raises `ProviderUnavailable`, saying whether a retry can do harm:
- `outcome_unknown=False` when it failed before a byte of it left (`NOTHING_SENT`): the provider cannot have
  acted on it;
- `outcome_unknown=True` for any other transport failure (a timeout or a dropped connection after sending), as
  the request may have taken effect; unless the caller knows it moves nothing (`may_have_acted=False`).
What the provider answers is each adapter's to read. Messages name the provider, the request and the failure,
never a body or a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import ClassVar, Self

import httpx

from topup.services.payments import ProviderUnavailable

# Failures that happen before a byte of the request leaves: the provider cannot have acted on it.
NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class HttpProvider:
    """Base of an adapter speaking HTTP to one provider: owns the client, closes it (also as a context manager),
    and sends requests with `_send`."""

    # The provider as messages name it, as the subject of a sentence: "The card acquirer", "PayPal".
    _PROVIDER: ClassVar[str]
    # Whether "unreachable" gives the connection error's own text ("[Errno 111] ...") or only its kind.
    _UNREACHABLE_SAYS_WHY: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url, headers=headers, timeout=httpx.Timeout(timeout_seconds), transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        may_have_acted: bool = True,
        request_name: str | None = None,
    ) -> httpx.Response:
        """The provider's answer, whatever its status; `ProviderUnavailable` when none came. `request_name` is
        how a message names the request ("METHOD path" unless given)."""
        try:
            return self._client.request(method, path, json=json, content=content, params=params, headers=headers)
        except NOTHING_SENT as error:
            why = str(error) if self._UNREACHABLE_SAYS_WHY else type(error).__name__
            raise ProviderUnavailable(f"{self._PROVIDER} is unreachable: {why}", outcome_unknown=False) from error
        except httpx.TransportError as error:
            message = f"{self._PROVIDER} did not answer {request_name or f'{method} {path}'}: {type(error).__name__}"
            raise ProviderUnavailable(message, outcome_unknown=may_have_acted) from error
