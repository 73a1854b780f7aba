"""A visitor's browser for page tests: follows the portal's forms the way a person would, reading the CSRF
and form tokens from the page it was shown, and the sign-in code from the development inbox."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
from fastapi.testclient import TestClient

from topup.bootstrap import Application
from topup.domain.notifications import NotificationKind
from topup.services import notifications

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
_TAGS = re.compile(r"<[^>]+>")


def text_of(html: str) -> str:
    """What a reader sees: the page without tags, scripts or styles, spaces collapsed."""
    html = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(_TAGS.sub(" ", html))).strip()


def field_error(html: str, field: str) -> str:
    """The problem shown next to a field (its `<p class="error" id="<field>-error">`)."""
    found = re.search(rf'<p class="error" id="{re.escape(field)}-error">(.*?)</p>', html, re.S)
    assert found is not None, f"no problem shown next to {field}"
    return text_of(found.group(1)).removeprefix("⚠").strip()


class Browser:
    def __init__(self, client: TestClient, application: Application) -> None:
        self.client = client
        self.application = application
        self.page = ""

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        response = self.client.get(url, follow_redirects=False, **kwargs)
        self.page = response.text if response.headers.get("content-type", "").startswith("text/html") else self.page
        return response

    def csrf(self) -> str:
        if not _CSRF.search(self.page):
            self.get("/")
        found = _CSRF.search(self.page)
        assert found is not None
        return found.group(1)

    def form_token(self) -> str:
        found = _FORM_TOKEN.search(self.page)
        assert found is not None, "the page has no form token"
        return found.group(1)

    def post(self, url: str, data: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        fields = {"csrf_token": self.csrf(), **data} if csrf else data
        response = self.client.post(url, data=fields, follow_redirects=False)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.page = response.text
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        """Follow the portal's own redirects (not those to a provider's page)."""
        while response.status_code in (302, 303, 307) and response.headers["location"].startswith("/"):
            response = self.get(response.headers["location"])
        return response

    def quote(self, number: str, amount: str = "500", **extra: str) -> str:
        """Ask for a price on the start page; returns the checkout page's address."""
        self.get("/")
        response = self.post("/topup", {"number": number, "amount": amount, "currency": "AZN", **extra})
        assert response.status_code == 303, text_of(response.text)
        location = response.headers["location"]
        assert location.startswith("/checkout/")
        self.get(location)
        return location

    def pay_by_card(self, checkout: str, card_number: str = "4242 4242 4242 4242", **extra: str) -> httpx.Response:
        fields = {
            "form_token": self.form_token(),
            "method": "card",
            "card_number": card_number,
            "card_expiry": "12/30",
            "cvc": "123",
            **extra,
        }
        return self.post(checkout, fields)

    def sign_in(self, number: str) -> None:
        self.get("/sign-in")
        sent = self.post("/sign-in", {"number": number})
        assert sent.status_code == 303, text_of(sent.text)
        self.get(sent.headers["location"])
        done = self.post("/sign-in/code", {"number": number, "code": self.code_for(number), "next": "/account"})
        assert done.status_code == 303, text_of(done.text)

    def application_pass(self, order_id: str) -> str:
        """The pass the portal puts in an order's links (as the provider's return address carries it)."""
        signer = self.client.app.state.portal.signer  # type: ignore[attr-defined]
        return str(signer.order_pass(order_id))

    def code_for(self, number: str) -> str:
        found = [
            n
            for n in notifications.inbox(self.application.uow(), number=number)
            if n.kind is NotificationKind.SIGN_IN_CODE
        ]
        assert found, "no code was sent"
        return found[0].params["code"]
