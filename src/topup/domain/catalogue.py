"""The catalogue: what each operator sells and on which rules. Data that operators edit, checked here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from topup.domain.errors import (
    AmountNotADenomination,
    AmountOutOfRange,
    BundleNotFound,
    BundleOfAnotherOperator,
    CatalogueInvalid,
    OperatorClosed,
    OperatorUnknown,
)
from topup.domain.money import format_amount

LANGUAGES = ("az", "en", "ru", "zh")
KB_PER_MB = 1_000  # operators count 1 GB = 1000 MB = 1,000,000 KB


class Stacking(StrEnum):
    STACK = "stack"  # a new pack adds its own buckets, each keeping its own expiry (Nar)
    EXCLUSIVE = "exclusive"  # refused while a pack of the same bundle is still active


@dataclass(frozen=True, slots=True)
class ValidityTier:
    """Top-ups of at least `amount_min_qepik` give `validity_days` of usage period."""

    amount_min_qepik: int
    validity_days: int


@dataclass(frozen=True, slots=True)
class TopUpRules:
    amount_min_qepik: int
    amount_max_qepik: int
    denominations_qepik: tuple[int, ...] = ()  # empty: any amount between min and max
    validity_tiers: tuple[ValidityTier, ...] = ()
    grace_days: int = 0  # after the usage period, days in which the line can still receive a top-up
    cooldown_seconds: int = 0  # a paid order for a number is refused this soon after the last one

    def __post_init__(self) -> None:
        if not 0 < self.amount_min_qepik <= self.amount_max_qepik:
            raise CatalogueInvalid("Top-up minimum must be positive and not above the maximum.")
        if any(not self.amount_min_qepik <= d <= self.amount_max_qepik for d in self.denominations_qepik):
            raise CatalogueInvalid("Every denomination must lie between the minimum and the maximum.")
        thresholds = [tier.amount_min_qepik for tier in self.validity_tiers]
        if thresholds != sorted(set(thresholds)):
            raise CatalogueInvalid("Validity tiers must be in increasing order of amount, without repeats.")
        if (
            any(tier.validity_days <= 0 for tier in self.validity_tiers)
            or min(self.grace_days, self.cooldown_seconds) < 0
        ):
            raise CatalogueInvalid("Validity and grace days must be positive.")

    def check_amount(self, amount_qepik: int) -> None:
        if not self.amount_min_qepik <= amount_qepik <= self.amount_max_qepik:
            raise AmountOutOfRange(
                f"The amount must be between {format_amount(self.amount_min_qepik)} and "
                f"{format_amount(self.amount_max_qepik)} AZN.",
                minimum=format_amount(self.amount_min_qepik),
                maximum=format_amount(self.amount_max_qepik),
            )
        if self.denominations_qepik and amount_qepik not in self.denominations_qepik:
            allowed = [format_amount(d) for d in self.denominations_qepik]
            raise AmountNotADenomination(
                f"This operator accepts only these amounts (AZN): {', '.join(allowed)}.", allowed=allowed
            )

    def validity_days_for(self, amount_qepik: int) -> int:
        """Days of usage period a top-up of this amount gives (0 if the operator's tiers give none)."""
        days = 0
        for tier in self.validity_tiers:
            if amount_qepik >= tier.amount_min_qepik:
                days = tier.validity_days
        return days


@dataclass(frozen=True, slots=True)
class Tariff:
    """Out-of-bundle prices, charged from the main balance, rounded up to the billing increment."""

    data_qepik_per_mb: int
    data_increment_kb: int
    voice_qepik_per_minute: int
    voice_increment_seconds: int
    sms_qepik: int


@dataclass(frozen=True, slots=True)
class Bundle:
    code: str
    operator: str
    names: dict[str, str]
    price_qepik: int
    validity_days: int
    data_kb: int = 0
    voice_seconds: int = 0
    sms_count: int = 0
    auto_renew: bool = False
    stacking: Stacking = Stacking.STACK
    roaming: bool = False
    # After its data runs out the bundle keeps data going at this speed, with no charge (0: it does not).
    throttle_kbps: int = 0

    def __post_init__(self) -> None:
        if self.price_qepik <= 0 or self.validity_days <= 0:
            raise CatalogueInvalid(f"Bundle {self.code}: price and validity must be positive.")
        if min(self.data_kb, self.voice_seconds, self.sms_count) < 0 or not (
            self.data_kb or self.voice_seconds or self.sms_count
        ):
            raise CatalogueInvalid(f"Bundle {self.code}: allowances must be non-negative, at least one set.")
        if self.throttle_kbps < 0 or (self.throttle_kbps and not self.data_kb):
            raise CatalogueInvalid(f"Bundle {self.code}: throttle_kbps needs data and must not be negative.")
        missing = [language for language in LANGUAGES if not self.names.get(language)]
        if missing:
            raise CatalogueInvalid(f"Bundle {self.code}: names missing for {', '.join(missing)}.")

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


class OperatorStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Operator:
    code: str
    name: str
    status: OperatorStatus
    topup: TopUpRules
    tariff: Tariff
    bundles: dict[str, Bundle] = field(default_factory=dict)
    closed_on: date | None = None
    # USSD codes the subscriber can dial, to what they lead (`topup.domain.ussd.UssdEntry` values).
    ussd_codes: dict[str, str] = field(default_factory=dict)
    # Prices abroad, from the main balance; None: abroad only roaming bundles serve.
    roaming_tariff: Tariff | None = None

    def ensure_open(self) -> None:
        if self.status is OperatorStatus.CLOSED:
            raise OperatorClosed(
                f"{self.name} has closed; its numbers moved to other operators.",
                operator=self.code,
                closed_on=self.closed_on.isoformat() if self.closed_on else None,
            )


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    vat_rate_basis_points: int
    operators: dict[str, Operator]

    def operator(self, code: str) -> Operator:
        try:
            return self.operators[code]
        except KeyError:
            raise OperatorUnknown(f"There is no operator {code!r}.", operator=code[:40]) from None

    def bundle(self, code: str, *, operator: str) -> Bundle:
        """The bundle `code`, which must belong to `operator` (the line's operator)."""
        for candidate in self.operators.values():
            found = candidate.bundles.get(code)
            if found is None:
                continue
            if found.operator != operator:
                raise BundleOfAnotherOperator(
                    f"Bundle {code} belongs to {candidate.name}, not to this line's operator.",
                    bundle=code,
                    bundle_operator=found.operator,
                    line_operator=operator,
                )
            return found
        raise BundleNotFound(f"There is no bundle {code!r}.", bundle=code[:64])
