"""A submitted form: read within limits, its CSRF token checked, and the problems to show next to its fields."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from topup.domain.money import parse_amount
from topup.entrypoints.web import messages
from topup.entrypoints.web.visitor import Signer, visitor_id

FIELDS_MAX = 60
VALUE_LENGTH_MAX = 2_000
BODY_BYTES_MAX = 64_000  # the largest portal form (a Google Pay token) is far smaller
CSRF_FIELD = "csrf_token"


class PortalRefusal(Exception):
    """A request the portal refuses before any service sees it (or a page that does not exist for this
    visitor); shown as a page with `status` and the message of `code`."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class Form:
    values: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0].strip() if found else default

    def raw(self, name: str) -> str:
        """Unstripped (a card number's spaces are the service's to drop)."""
        found = self.values.get(name)
        return found[0] if found else ""

    def getlist(self, name: str) -> list[str]:
        return [value.strip() for value in self.values.get(name, [])]

    def has(self, name: str) -> bool:
        return name in self.values


async def read_form(request: Request, *, value_length_max: int = VALUE_LENGTH_MAX) -> Form:
    """The posted fields (text only, bounded in number and length). A body that is too large, or files,
    are refused."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > BODY_BYTES_MAX):
        raise PortalRefusal("too_large", 413)
    data = await request.form(max_files=0, max_fields=FIELDS_MAX)
    values: dict[str, list[str]] = {}
    for name, value in data.multi_items():
        if not isinstance(value, str):
            raise PortalRefusal(messages.FORM_TAMPERED, 400)
        values.setdefault(name[:100], []).append(value[:value_length_max])
    return Form(values)


def check_csrf(request: Request, form: Form, signer: Signer) -> None:
    """Every POST of the portal carries the visitor's token: a form posted from another site has none."""
    token = form.get(CSRF_FIELD)
    if not token or not signer.valid("csrf", visitor_id(request), token):
        raise PortalRefusal(messages.FORM_EXPIRED, 403)


@dataclass
class Problems:
    """What is wrong with a submitted form, by field ("" for the form as a whole), already in words."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, name: str | None, text: str) -> None:
        self.by_field.setdefault(name or "", text)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def of(self, name: str) -> str | None:
        return self.by_field.get(name)


def amount_field(text: str) -> int:
    """An amount as people type it — "5", "7,50", "7.50 ₼" — in qəpik (`invalid_amount` otherwise)."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace("₼", "").removesuffix("AZN").replace(",", ".")
    return parse_amount(cleaned)
