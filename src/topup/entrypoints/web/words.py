"""The words of one request's language: gettext, Babel formats, and errors turned into problems on a form."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from topup.domain.errors import DomainError
from topup.entrypoints.web import i18n, messages
from topup.entrypoints.web.forms import Problems
from topup.entrypoints.web.rendering import language_of


@dataclass(frozen=True, slots=True)
class Words:
    language: str

    @property
    def fmt(self) -> i18n.Formats:
        return i18n.Formats(self.language)

    def translate(self, message: str) -> str:
        """gettext (named otherwise so that extraction does not take a call with a variable for a message)."""
        return str(i18n.translations(self.language).gettext(message))

    def error(self, error: DomainError) -> str:
        return messages.error_text(error, self.translate, self.fmt)

    def failure(self, code: str | None) -> str:
        return messages.failure_text(code, self.translate, self.fmt)

    def add(self, problems: Problems, error: DomainError, *, field: str | None = None) -> None:
        """The error next to its own field, or `field` when the error names none (else the form's top)."""
        problems.add(messages.field_of(error) or field, self.error(error))

    def add_code(self, problems: Problems, field: str | None, code: str) -> None:
        problems.add(field, messages.code_text(code, self.translate))


def words_of(request: Request) -> Words:
    return Words(language_of(request))
