"""The server's kiosk API over HTTP, with the kiosk's key: what the terminal's forwarder and screens ask."""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from topup.domain.agents import parse_percent
from topup.domain.kiosk_terminal import QueuedPayment
from topup.domain.money import format_amount, parse_amount
from topup.services.kiosk_terminal import ForwardRefused, ServerAnswer, ServerQuote, ServerUnreachable


class _Money(BaseModel):
    amount: str

    @property
    def qepik(self) -> int:
        return 0 if self.amount in ("0", "0.00") else parse_amount(self.amount)


class _Quote(BaseModel):
    operator: str
    national: str
    fee_percent: str
    minimum_credited: _Money
    maximum_credited: _Money


class _Payment(BaseModel):
    state: str
    credited: _Money
    verification_code: str | None = None
    failure_code: str | None = None


class _Error(BaseModel):
    code: str


class _Refusal(BaseModel):
    error: _Error


class HttpKioskServer:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        timeout_seconds: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )

    def quote(self, *, number: str, inserted_qepik: int) -> ServerQuote:
        answer = self._post("/v1/kiosk/quotes", {"msisdn": number, "inserted": format_amount(inserted_qepik)})
        quote = _read(_Quote, answer)
        return ServerQuote(
            operator=quote.operator,
            national=quote.national,
            fee_basis_points=parse_percent(quote.fee_percent),
            minimum_qepik=quote.minimum_credited.qepik,
            maximum_qepik=quote.maximum_credited.qepik,
        )

    def forward(self, payment: QueuedPayment) -> ServerAnswer:
        answer = self._post(
            "/v1/kiosk/payments",
            {
                "local_id": payment.local_id,
                "msisdn": payment.msisdn,
                "banknotes": payment.banknotes,
                "paid_at": payment.paid_at.isoformat(),
            },
            idempotency_key=payment.local_id,
        )
        payment_answer = _read(_Payment, answer)
        return ServerAnswer(
            state=payment_answer.state,
            credited_qepik=payment_answer.credited.qepik,
            verification_code=payment_answer.verification_code,
            failure_code=payment_answer.failure_code,
        )

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, object], *, idempotency_key: str | None = None) -> bytes:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        try:
            response = self._client.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise ServerUnreachable(f"{type(error).__name__}: the server did not answer") from error
        if response.status_code >= 500:
            raise ServerUnreachable(f"the server failed (HTTP {response.status_code})")
        if response.status_code >= 400:
            code = _read(_Refusal, response.content).error.code if _readable(response) else "refused"
            raise ForwardRefused(f"the server refused: {code}", code=code[:64])
        return response.content


_Model = TypeVar("_Model", bound=BaseModel)


def _read(model: type[_Model], content: bytes) -> _Model:
    try:
        return model.model_validate_json(content)
    except ValidationError:
        raise ServerUnreachable("the server answered something unreadable") from None


def _readable(response: httpx.Response) -> bool:
    try:
        _Refusal.model_validate_json(response.content)
    except ValidationError:
        return False
    return True
