"""Read the catalogue's TOML file format into domain objects, refusing anything malformed.

Amounts are decimal strings in AZN ("15.00"), data in MB (1 GB = 1000 MB), voice in minutes.
See src/topup/data/catalogue.toml for a complete example.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from topup.domain.catalogue import (
    KB_PER_MB,
    Bundle,
    Catalogue,
    Operator,
    OperatorStatus,
    Stacking,
    Tariff,
    TopUpRules,
    ValidityTier,
)
from topup.domain.errors import CatalogueInvalid, DomainError
from topup.domain.money import parse_amount
from topup.domain.ussd import UssdEntry, check_request, normalise_code

SECONDS_PER_MINUTE = 60


def parse_catalogue(text: str) -> Catalogue:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueInvalid(f"The catalogue file is not valid TOML: {error}") from None
    try:
        return _catalogue(document)
    except CatalogueInvalid:
        raise
    except DomainError as error:
        raise CatalogueInvalid(f"The catalogue has a bad value: {error.message}", **error.details) from None
    except (KeyError, TypeError, ValueError) as error:
        raise CatalogueInvalid(f"The catalogue is missing or mistypes a field: {error}") from None


def _catalogue(document: dict[str, Any]) -> Catalogue:
    version = _text(document, "version")
    vat_percent = _text(document, "vat_percent")
    vat_bp = parse_amount(vat_percent)  # "18" -> 1800 hundredths of a percent = basis points
    operators = {code: _operator(code, body) for code, body in _table(document, "operators").items()}
    if not operators:
        raise CatalogueInvalid("The catalogue has no operators.")
    seen: set[str] = set()
    for operator in operators.values():
        for code in operator.bundles:
            if code in seen:
                raise CatalogueInvalid(f"Bundle code {code} appears twice.")
            seen.add(code)
    return Catalogue(version=version, vat_rate_basis_points=vat_bp, operators=operators)


def _operator(code: str, body: dict[str, Any]) -> Operator:
    topup = _table(body, "topup")
    rules = TopUpRules(
        amount_min_qepik=parse_amount(_text(topup, "min")),
        amount_max_qepik=parse_amount(_text(topup, "max")),
        denominations_qepik=tuple(parse_amount(d) for d in topup.get("denominations", [])),
        validity_tiers=tuple(
            ValidityTier(parse_amount(_text(tier, "from")), _integer(tier, "days"))
            for tier in topup.get("validity_tiers", [])
        ),
        grace_days=_optional_integer(topup, "grace_days"),
        cooldown_seconds=_optional_integer(topup, "cooldown_seconds"),
    )
    tariff = _tariff(_table(body, "tariff"))
    roaming_tariff = _tariff(_table(body, "roaming_tariff")) if "roaming_tariff" in body else None
    bundles: dict[str, Bundle] = {}
    for bundle_body in body.get("bundles", []):
        bundle = _bundle(code, bundle_body)
        if bundle.code in bundles:
            raise CatalogueInvalid(f"Bundle code {bundle.code} appears twice.")
        bundles[bundle.code] = bundle
    closed_on = body.get("closed_on")
    if closed_on is not None and (isinstance(closed_on, datetime) or not isinstance(closed_on, date)):
        raise CatalogueInvalid(f"Operator {code}: closed_on must be a date.")
    return Operator(
        code=code,
        name=_text(body, "name"),
        status=_choice(OperatorStatus, body.get("status", "active"), "status"),
        topup=rules,
        tariff=tariff,
        bundles=bundles,
        closed_on=closed_on,
        ussd_codes=_ussd_codes(body.get("ussd", {})),
        roaming_tariff=roaming_tariff,
    )


def _tariff(body: dict[str, Any]) -> Tariff:
    increments = (_integer(body, "data_increment_kb"), _integer(body, "voice_increment_seconds"))
    if min(increments) <= 0:
        raise CatalogueInvalid("Billing increments must be positive.")
    return Tariff(
        data_qepik_per_mb=parse_amount(_text(body, "data_per_mb")),
        data_increment_kb=increments[0],
        voice_qepik_per_minute=parse_amount(_text(body, "voice_per_minute")),
        voice_increment_seconds=increments[1],
        sms_qepik=parse_amount(_text(body, "sms")),
    )


def _ussd_codes(body: object) -> dict[str, str]:
    """`"*100#" = "balance"`: each dialled code and the entry it leads to."""
    if not isinstance(body, dict):
        raise CatalogueInvalid("ussd must be a table of code = entry.")
    codes: dict[str, str] = {}
    for code, entry in body.items():
        normalised = normalise_code(code)
        check_request("catalogue", normalised, "")
        codes[normalised] = _choice(UssdEntry, entry, f"ussd {code}").value
    return codes


def _bundle(operator: str, body: dict[str, Any]) -> Bundle:
    names = body["name"]
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise CatalogueInvalid("A bundle's name is a table of language = text.")
    return Bundle(
        code=_text(body, "code"),
        operator=operator,
        names=dict(names),
        price_qepik=parse_amount(_text(body, "price")),
        validity_days=_integer(body, "validity_days"),
        data_kb=_optional_integer(body, "data_mb") * KB_PER_MB,
        voice_seconds=_optional_integer(body, "minutes") * SECONDS_PER_MINUTE,
        sms_count=_optional_integer(body, "sms"),
        auto_renew=_flag(body, "auto_renew"),
        stacking=_choice(Stacking, body.get("stacking", "stack"), "stacking"),
        roaming=_flag(body, "roaming"),
        throttle_kbps=_optional_integer(body, "throttle_kbps"),
    )


def _table(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body[key]
    if not isinstance(value, dict):
        raise CatalogueInvalid(f"{key} must be a table.")
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str) or not value:
        raise CatalogueInvalid(f"{key} must be a non-empty string.")
    return value


def _integer(body: dict[str, Any], key: str) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise CatalogueInvalid(f"{key} must be a whole number.")
    return value


def _optional_integer(body: dict[str, Any], key: str) -> int:
    return _integer(body, key) if key in body else 0


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise CatalogueInvalid(f"{key} must be true or false.")
    return value


_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(kind: type[_Choice], value: object, key: str) -> _Choice:
    allowed = [member.value for member in kind]
    if value not in allowed:
        raise CatalogueInvalid(f"{key} must be one of {', '.join(allowed)}.")
    return kind(value)
