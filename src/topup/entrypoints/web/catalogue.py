"""The portal's messages as the code and templates use them today, and the `.po` catalogues kept in step with
them: `python -m topup.entrypoints.web.catalogue` (`make messages`) extracts every marked string and updates
the four catalogues (new strings arrive empty, unused ones go); translators fill in the empty ones. The test
of the catalogues uses `extracted()` to fail on any string left untranslated."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from topup.entrypoints.web.i18n import DOMAIN, LANGUAGES, LOCALES, LOCALES_DIRECTORY

PACKAGE_DIRECTORY = Path(__file__).parent
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.do"}}


def extracted() -> Catalog:
    """Every message marked in the portal's code (`N_`, `_`) and templates (`_`, `ngettext`)."""
    catalogue = Catalog(domain=DOMAIN, project="Topup portal")
    for filename, line, message, comments, context in extract_from_dir(
        PACKAGE_DIRECTORY, METHODS, OPTIONS, strip_comment_tags=True
    ):
        catalogue.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalogue


def path_of(language: str) -> Path:
    return LOCALES_DIRECTORY / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def update() -> None:
    template = extracted()
    for language in LANGUAGES:
        path = path_of(language)
        if path.exists():
            with path.open("rb") as source:
                catalogue = read_po(source, locale=LOCALES[language], domain=DOMAIN)
        else:
            catalogue = Catalog(locale=LOCALES[language], domain=DOMAIN, project="Topup portal")
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        catalogue.fuzzy = False  # the header: gettext must read its plural rule
        catalogue.project, catalogue.version = "Topup portal", "1"
        catalogue.msgid_bugs_address = ""
        catalogue.last_translator = "Topup"
        catalogue.language_team = "Topup"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as target:
            write_po(target, catalogue, width=120, omit_header=False, sort_output=True, include_lineno=False)


if __name__ == "__main__":
    update()
