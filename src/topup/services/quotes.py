"""Exchange rates (set by staff) and quotes (asked by anyone before paying)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from topup.domain.calendar import baku_date
from topup.domain.fx import RateUnavailable, charge_in, check_currency_code, parse_rate
from topup.domain.money import CURRENCY, included_vat
from topup.domain.numbers import parse_msisdn
from topup.domain.quotes import ProductType, Quote, QuoteNotFound
from topup.services.numbers import current_operator
from topup.services.ports import Clock, FxRate, UnitOfWork

QUOTE_LOCK_SECONDS_DEFAULT = 15 * 60
FEE_QEPIK = 0  # no fee yet; a fee schedule per payment method belongs with the payment providers


def set_rate(uow: UnitOfWork, clock: Clock, *, currency: str, rate: str, set_by: str) -> FxRate:
    check_currency_code(currency)
    if currency == CURRENCY:
        raise RateUnavailable("AZN needs no exchange rate.", currency=currency)
    record = FxRate(currency=currency, rate_micros=parse_rate(rate), set_at=clock.now(), set_by=set_by[:100])
    with uow:
        uow.fx_rates.add(record)
        uow.commit()
    return record


def current_rates(uow: UnitOfWork) -> list[FxRate]:
    with uow:
        return uow.fx_rates.current()


def quote(
    uow: UnitOfWork,
    clock: Clock,
    *,
    number: str,
    product_type: ProductType,
    amount_qepik: int | None = None,
    bundle_code: str | None = None,
    currency: str = CURRENCY,
    lock_seconds: int = QUOTE_LOCK_SECONDS_DEFAULT,
) -> Quote:
    """Price a top-up (`amount_qepik`) or a bundle (`bundle_code`) for any number, in AZN or another currency,
    and keep the quote so an order can pay exactly that."""
    with uow:
        result = price(
            uow,
            clock,
            number=number,
            product_type=product_type,
            amount_qepik=amount_qepik,
            bundle_code=bundle_code,
            currency=currency,
            lock_seconds=lock_seconds,
        )
        uow.quotes.add(result)
        uow.commit()
    return result


def price(
    uow: UnitOfWork,
    clock: Clock,
    *,
    number: str,
    product_type: ProductType,
    amount_qepik: int | None = None,
    bundle_code: str | None = None,
    currency: str = CURRENCY,
    lock_seconds: int = QUOTE_LOCK_SECONDS_DEFAULT,
) -> Quote:
    """The quote for a product now, without keeping it (runs inside the caller's unit of work)."""
    msisdn = parse_msisdn(number)
    check_currency_code(currency)
    with uow:
        operator_code, _, _ = current_operator(uow, msisdn)
        catalogue = uow.catalogue.current()
        operator = catalogue.operator(operator_code)
        operator.ensure_open()
        line = uow.lines.get(msisdn)
        now = clock.now()
        validity_days, valid_until = 0, None
        if product_type is ProductType.TOPUP:
            if amount_qepik is None:
                raise ValueError("a top-up quote needs amount_qepik")
            operator.topup.check_amount(amount_qepik)
            validity_days = operator.topup.validity_days_for(amount_qepik)
            if line is not None:
                plan = line.plan_top_up(operator, amount_qepik, today=baku_date(now), vat_bp=0)
                validity_days, valid_until = plan.validity_days, plan.valid_until
            price_qepik = amount_qepik
        else:
            if bundle_code is None:
                raise ValueError("a bundle quote needs bundle_code")
            price_qepik = catalogue.bundle(bundle_code, operator=operator_code).price_qepik
        rate_micros = None
        if currency != CURRENCY:
            rate = uow.fx_rates.latest(currency)
            if rate is None:
                raise RateUnavailable(f"There is no exchange rate for {currency} yet.", currency=currency)
            rate_micros = rate.rate_micros
        return Quote(
            id=uuid.uuid4().hex,
            msisdn=msisdn.e164,
            operator=operator_code,
            product_type=product_type,
            amount_qepik=price_qepik,
            bundle_code=bundle_code if product_type is ProductType.BUNDLE else None,
            vat_qepik=included_vat(price_qepik, catalogue.vat_rate_basis_points),
            fee_qepik=FEE_QEPIK,
            currency=currency,
            rate_micros=rate_micros,
            charge_minor=charge_in(currency, price_qepik + FEE_QEPIK, rate_micros or 1),
            validity_days=validity_days,
            created_at=now,
            expires_at=now + timedelta(seconds=lock_seconds),
            valid_until=valid_until,
        )


def get_quote(uow: UnitOfWork, *, quote_id: str) -> Quote:
    with uow:
        found = uow.quotes.get(quote_id) if quote_id.isalnum() else None
    if found is None:
        raise QuoteNotFound("There is no quote with this id.", quote_id=quote_id[:64])
    return found
