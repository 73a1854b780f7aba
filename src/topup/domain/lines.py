"""A line is a mobile number on one operator, with a main balance and a usage period (validity)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from topup.domain.cards import luhn_valid  # ICCIDs end in a Luhn check digit, like card numbers
from topup.domain.catalogue import LANGUAGES, Bundle, Operator, Stacking
from topup.domain.errors import (
    BundleAlreadyActive,
    InvalidIccid,
    InvalidInput,
    LineBarred,
    LineClosed,
    LineValidityExpired,
)
from topup.domain.ledger import Unit
from topup.domain.money import included_vat
from topup.domain.numbers import Msisdn

# ICCID: 89 (telecom) + 994 (Azerbaijan) or another country code, 18-20 digits in all (ITU-T E.118).
_ICCID_PATTERN = re.compile(r"89[0-9]{16,18}")


class LineType(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class LineStatus(StrEnum):
    ACTIVE = "active"
    BARRED = "barred"
    CLOSED = "closed"


def check_iccid(iccid: str) -> str:
    if _ICCID_PATTERN.fullmatch(iccid) is None or not luhn_valid(iccid):
        raise InvalidIccid("An ICCID is 18 to 20 digits starting with 89, with a valid check digit.")
    return iccid


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidInput(
            f"Language must be one of {', '.join(LANGUAGES)}.", field="language", allowed=list(LANGUAGES)
        )
    return language


@dataclass(frozen=True, slots=True)
class TopUpPlan:
    amount_qepik: int
    validity_days: int
    valid_until: date | None
    vat_qepik: int


@dataclass(frozen=True, slots=True)
class BundlePurchasePlan:
    bundle: Bundle
    price_qepik: int
    vat_qepik: int
    expires_at: datetime
    allowances: tuple[tuple[Unit, int], ...]


@dataclass(frozen=True, slots=True)
class Line:
    msisdn: Msisdn
    operator: str
    type: LineType
    status: LineStatus
    language: str
    main_account_id: int
    iccid: str | None = None
    valid_until: date | None = None  # last day (Asia/Baku) of the usage period; None for postpaid lines
    auto_recharge_below_qepik: int | None = None  # the threshold of its active threshold auto-recharge

    def ensure_open(self) -> None:
        if self.status is LineStatus.BARRED:
            raise LineBarred("This line is barred: it cannot be topped up or charged.", msisdn=self.msisdn.e164)
        if self.status is LineStatus.CLOSED:
            raise LineClosed("This line is closed.", msisdn=self.msisdn.e164)

    def plan_top_up(self, operator: Operator, amount_qepik: int, *, today: date, vat_bp: int) -> TopUpPlan:
        """Check a top-up and work out the new usage period: the unused remainder is kept and extended."""
        self.ensure_open()
        operator.ensure_open()
        operator.topup.check_amount(amount_qepik)
        if self.valid_until is not None and today > self.valid_until + timedelta(days=operator.topup.grace_days):
            raise LineValidityExpired(
                "This number's usage and grace periods have ended; it can no longer be topped up.",
                valid_until=self.valid_until.isoformat(),
                grace_days=operator.topup.grace_days,
            )
        days = operator.topup.validity_days_for(amount_qepik) if self.type is LineType.PREPAID else 0
        valid_until = self.valid_until
        if days:
            start = max(self.valid_until, today) if self.valid_until else today
            valid_until = start + timedelta(days=days)
        return TopUpPlan(amount_qepik, days, valid_until, included_vat(amount_qepik, vat_bp))

    def plan_bundle_purchase(
        self, bundle: Bundle, *, now: datetime, today: date, vat_bp: int, same_bundle_active: bool
    ) -> BundlePurchasePlan:
        self.ensure_open()
        if self.valid_until is not None and today > self.valid_until:
            raise LineValidityExpired(
                "This line's usage period has ended: top it up before buying a bundle.",
                valid_until=self.valid_until.isoformat(),
            )
        if bundle.stacking is Stacking.EXCLUSIVE and same_bundle_active:
            raise BundleAlreadyActive(
                f"{bundle.name('en')} is still active on this line; buy it again when it ends.",
                bundle=bundle.code,
            )
        allowances = tuple(
            (unit, amount)
            for unit, amount in (
                (Unit.DATA_KB, bundle.data_kb),
                (Unit.VOICE_SECONDS, bundle.voice_seconds),
                (Unit.SMS, bundle.sms_count),
            )
            if amount > 0
        )
        return BundlePurchasePlan(
            bundle=bundle,
            price_qepik=bundle.price_qepik,
            vat_qepik=included_vat(bundle.price_qepik, vat_bp),
            expires_at=now + timedelta(days=bundle.validity_days),
            allowances=allowances,
        )
