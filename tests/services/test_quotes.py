from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.factories import make_line, new_number, snapshot
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.domain.quotes import ProductType
from topup.services import quotes


def ask(application: Application, number: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return quotes.quote(application.uow(), application.clock, number=number, **kwargs)  # type: ignore[arg-type]


def test_a_top_up_quote_in_azn_for_a_line_we_hold(application: Application) -> None:
    line = make_line(application, balance_qepik=500)  # valid until 2026-12-23

    result = ask(application, line.msisdn.national, product_type=ProductType.TOPUP, amount_qepik=1000)

    assert (result.amount_qepik, result.vat_qepik, result.fee_qepik) == (1000, 153, 0)
    assert (result.currency, result.rate_micros, result.charge_minor) == ("AZN", None, 1000)
    assert (result.validity_days, result.valid_until) == (60, date(2027, 2, 21))
    assert result.expires_at == application.clock.now() + timedelta(seconds=quotes.QUOTE_LOCK_SECONDS_DEFAULT)
    assert quotes.get_quote(application.uow(), quote_id=result.id) == result


def test_a_bundle_quote_in_a_foreign_currency_for_someone_elses_number(application: Application) -> None:
    quotes.set_rate(application.uow(), application.clock, currency="USD", rate="1.7", set_by="test")

    result = ask(
        application, "+994701234567", product_type=ProductType.BUNDLE, bundle_code="nar-3-5gb-14d", currency="USD"
    )

    assert (result.operator, result.amount_qepik, result.vat_qepik) == ("nar", 677, 103)
    assert (result.rate_micros, result.charge_minor) == (1_700_000, 399)  # 6.77 / 1.7 = 3.982… -> 3.99 USD
    assert (result.validity_days, result.valid_until) == (0, None)


def test_the_newest_rate_is_the_one_in_force(application: Application) -> None:
    quotes.set_rate(application.uow(), application.clock, currency="EUR", rate="1.9", set_by="test")
    quotes.set_rate(application.uow(), application.clock, currency="EUR", rate="2.0", set_by="test")
    quotes.set_rate(application.uow(), application.clock, currency="RUB", rate="0.021", set_by="test")

    rates = {r.currency: r.rate_micros for r in quotes.current_rates(application.uow())}
    result = ask(application, new_number(), product_type=ProductType.TOPUP, amount_qepik=1000, currency="EUR")

    assert rates == {"EUR": 2_000_000, "RUB": 21_000}
    assert result.charge_minor == 500


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"product_type": ProductType.TOPUP, "amount_qepik": 50}, "amount_out_of_range"),
        ({"product_type": ProductType.TOPUP, "amount_qepik": 1000, "currency": "GBP"}, "unsupported_currency"),
        ({"product_type": ProductType.TOPUP, "amount_qepik": 1000, "currency": "TRY"}, "rate_unavailable"),
        ({"product_type": ProductType.BUNDLE, "bundle_code": "nar-3-5gb-14d"}, "bundle_of_another_operator"),
        ({"product_type": ProductType.BUNDLE, "bundle_code": "nope"}, "bundle_not_found"),
    ],
)
def test_bad_quotes_are_refused_and_store_nothing(
    application: Application, kwargs: dict[str, object], code: str
) -> None:
    before = snapshot(application)
    with pytest.raises(DomainError) as refused:
        ask(application, "+994501234567", **kwargs)
    assert refused.value.code == code
    assert snapshot(application) == before


@pytest.mark.parametrize(("currency", "rate", "code"), [("AZN", "1", "rate_unavailable"), ("USD", "0", "invalid_rate")])
def test_bad_rates_are_refused(application: Application, currency: str, rate: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        quotes.set_rate(application.uow(), application.clock, currency=currency, rate=rate, set_by="test")
    assert refused.value.code == code
    assert quotes.current_rates(application.uow()) == []


def test_an_unknown_quote_is_not_found(application: Application) -> None:
    with pytest.raises(DomainError) as refused:
        quotes.get_quote(application.uow(), quote_id="0" * 32)
    assert refused.value.code == "quote_not_found"
