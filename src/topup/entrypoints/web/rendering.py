"""Pages from Jinja2 templates, one environment per language with its gettext catalogue installed, every value
autoescaped, and the headers every portal page carries."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from topup.domain.numbers import Msisdn
from topup.entrypoints.web import i18n, labels
from topup.entrypoints.web.forms import CSRF_FIELD, Problems
from topup.entrypoints.web.visitor import LANGUAGE_COOKIE, Signer, visitor_id

TEMPLATES_DIRECTORY = Path(__file__).parent / "templates"
STATIC_DIRECTORY = Path(__file__).parent / "static"
# Our own script and styles only; no inline script or style, nothing from elsewhere. `form-action` is left
# open on purpose: paying redirects the posted form on to the bank's 3-D Secure page, wherever it is.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",  # pages carry a form token and, signed in, a subscriber's data
    "Referrer-Policy": "no-referrer",  # links carry order passes: they must not leak to other sites
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _static_versions() -> dict[str, str]:
    """A hash per static file: its URL changes with its content, so browsers may cache it for good."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC_DIRECTORY.iterdir()
        if path.is_file()
    }


def language_of(request: Request) -> str:
    """The remembered choice, else the browser's Accept-Language."""
    chosen = i18n.language_or_none(request.cookies.get(LANGUAGE_COOKIE))
    return chosen or i18n.negotiate(request.headers.get("accept-language"))


class Pages:
    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self._versions = _static_versions()
        self._environments = {language: self._environment(language) for language in i18n.LANGUAGES}

    def _environment(self, language: str) -> Environment:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES_DIRECTORY),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Added by the i18n extension at run time, which the type stubs cannot see.
        install = environment.install_gettext_translations  # type: ignore[attr-defined]
        install(i18n.translations(language), newstyle=True)
        environment.globals.update(
            static=self.static_url,
            national=lambda e164: Msisdn(e164).national,
            masked=lambda e164: Msisdn(e164).masked,
            csrf_field=CSRF_FIELD,
            labels=labels,
        )
        return environment

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self._versions.get(name, '0')}"

    def text(self, request: Request, name: str, context: Mapping[str, Any]) -> str:
        language = language_of(request)
        template = self._environments[language].get_template(name)
        return template.render(self.context(request, language, context))

    def render(self, request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.text(request, name, context), status_code=status, headers=HEADERS)

    def context(self, request: Request, language: str, extra: Mapping[str, Any]) -> dict[str, Any]:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return {
            "lang": language,
            "html_lang": i18n.HTML_LANG[language],
            "languages": [(code, i18n.NAMES[code]) for code in i18n.LANGUAGES],
            "fmt": i18n.Formats(language),
            "csrf_token": self.signer.csrf_token(visitor_id(request)),
            "subscriber": getattr(request.state, "subscriber", None),
            "here": here,
            "path": request.url.path,
            "problems": Problems(),
            **extra,
        }


def redirect(url: str) -> RedirectResponse:
    """After a POST: the browser GETs the next page (a reload never posts again)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
