"""Lines: top-up and bundle rules, the usage period, ICCIDs, languages, and the Baku calendar they live by."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.calendar import baku_date
from topup.domain.catalogue import (
    LANGUAGES,
    Bundle,
    Operator,
    OperatorStatus,
    Stacking,
    Tariff,
    TopUpRules,
    ValidityTier,
)
from topup.domain.errors import (
    AmountNotADenomination,
    AmountOutOfRange,
    BundleAlreadyActive,
    CatalogueInvalid,
    InvalidIccid,
    InvalidInput,
    LineBarred,
    LineClosed,
    LineValidityExpired,
    OperatorClosed,
)
from topup.domain.ledger import Unit
from topup.domain.lines import Line, LineStatus, LineType, check_iccid, check_language
from topup.domain.numbers import Msisdn

VAT_BP = 1_800
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

# Azercell's electronic top-up rules since 2024-07-01, from 1 AZN to 500 AZN.
AZERCELL_TIERS = (
    ValidityTier(100, 5),
    ValidityTier(200, 10),
    ValidityTier(300, 20),
    ValidityTier(500, 30),
    ValidityTier(1_000, 60),
    ValidityTier(2_500, 90),
    ValidityTier(5_000, 120),
)


def topup_rules(**overrides: object) -> TopUpRules:
    fields: dict[str, object] = {
        "amount_min_qepik": 100,
        "amount_max_qepik": 50_000,
        "validity_tiers": AZERCELL_TIERS,
        "grace_days": 180,
    }
    fields.update(overrides)
    return TopUpRules(**fields)  # type: ignore[arg-type]


def tariff() -> Tariff:
    return Tariff(
        data_qepik_per_mb=10,
        data_increment_kb=5_000,
        voice_qepik_per_minute=8,
        voice_increment_seconds=60,
        sms_qepik=5,
    )


def bundle(**overrides: object) -> Bundle:
    fields: dict[str, object] = {
        "code": "azc-10gb-30d",
        "operator": "azercell",
        "names": {language: f"10 GB ({language})" for language in LANGUAGES},
        "price_qepik": 1_500,
        "validity_days": 30,
        "data_kb": 10_000_000,
    }
    fields.update(overrides)
    return Bundle(**fields)  # type: ignore[arg-type]


def operator(*, rules: TopUpRules | None = None, status: OperatorStatus = OperatorStatus.ACTIVE) -> Operator:
    the_bundle = bundle()
    return Operator(
        code="azercell",
        name="Azercell",
        status=status,
        topup=rules or topup_rules(),
        tariff=tariff(),
        bundles={the_bundle.code: the_bundle},
        closed_on=date(2025, 12, 1) if status is OperatorStatus.CLOSED else None,
    )


def line(
    *,
    valid_until: date | None = None,
    line_type: LineType = LineType.PREPAID,
    status: LineStatus = LineStatus.ACTIVE,
) -> Line:
    return Line(
        msisdn=Msisdn("+994501234567"),
        operator="azercell",
        type=line_type,
        status=status,
        language="az",
        main_account_id=1,
        valid_until=valid_until,
    )


# plan_top_up


def test_top_up_of_a_new_line_starts_the_usage_period_today() -> None:
    plan = line(valid_until=None).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert plan.amount_qepik == 500
    assert plan.validity_days == 30
    assert plan.valid_until == date(2026, 12, 23)
    assert plan.vat_qepik == 76


def test_top_up_keeps_and_extends_the_unused_remainder() -> None:
    plan = line(valid_until=date(2026, 11, 30)).plan_top_up(operator(), 1_000, today=TODAY, vat_bp=VAT_BP)
    assert plan.validity_days == 60
    assert plan.valid_until == date(2027, 1, 29)


def test_top_up_on_the_last_day_of_the_usage_period_extends_from_that_day() -> None:
    plan = line(valid_until=TODAY).plan_top_up(operator(), 100, today=TODAY, vat_bp=VAT_BP)
    assert plan.valid_until == TODAY + timedelta(days=5)


def test_top_up_within_grace_restarts_the_usage_period_today() -> None:
    plan = line(valid_until=date(2026, 10, 1)).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert plan.valid_until == TODAY + timedelta(days=30)


def test_top_up_on_the_last_day_of_grace_is_accepted() -> None:
    valid_until = TODAY - timedelta(days=180)
    plan = line(valid_until=valid_until).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert plan.valid_until == date(2026, 12, 23)


def test_top_up_after_grace_is_refused() -> None:
    with pytest.raises(LineValidityExpired) as excinfo:
        line(valid_until=date(2026, 1, 1)).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "line_validity_expired"
    assert excinfo.value.details == {"valid_until": "2026-01-01", "grace_days": 180}


def test_top_up_the_day_after_grace_is_refused() -> None:
    valid_until = TODAY - timedelta(days=181)
    with pytest.raises(LineValidityExpired) as excinfo:
        line(valid_until=valid_until).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "line_validity_expired"


@pytest.mark.parametrize(
    ("amount", "days"),
    [
        (100, 5),
        (199, 5),
        (200, 10),
        (299, 10),
        (300, 20),
        (499, 20),
        (500, 30),
        (999, 30),
        (1_000, 60),
        (2_499, 60),
        (2_500, 90),
        (4_999, 90),
        (5_000, 120),
        (50_000, 120),
    ],
)
def test_top_up_amount_sets_the_usage_period(amount: int, days: int) -> None:
    plan = line().plan_top_up(operator(), amount, today=TODAY, vat_bp=VAT_BP)
    assert plan.validity_days == days
    assert plan.valid_until == TODAY + timedelta(days=days)


def test_top_up_below_every_tier_leaves_the_usage_period_alone() -> None:
    rules = topup_rules(amount_min_qepik=50)
    plan = line(valid_until=date(2026, 11, 30)).plan_top_up(operator(rules=rules), 50, today=TODAY, vat_bp=VAT_BP)
    assert plan.validity_days == 0
    assert plan.valid_until == date(2026, 11, 30)


def test_top_up_of_a_postpaid_line_leaves_valid_until_unset() -> None:
    plan = line(line_type=LineType.POSTPAID).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert plan.valid_until is None
    assert plan.amount_qepik == 500
    assert plan.vat_qepik == 76


def test_top_up_of_a_barred_line_is_refused() -> None:
    with pytest.raises(LineBarred) as excinfo:
        line(status=LineStatus.BARRED).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "line_barred"


def test_top_up_of_a_closed_line_is_refused() -> None:
    with pytest.raises(LineClosed) as excinfo:
        line(status=LineStatus.CLOSED).plan_top_up(operator(), 500, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "line_closed"


@pytest.mark.parametrize("amount", [99, 50_001, 0, -500])
def test_top_up_outside_the_operator_range_is_refused(amount: int) -> None:
    with pytest.raises(AmountOutOfRange) as excinfo:
        line().plan_top_up(operator(), amount, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "amount_out_of_range"
    assert excinfo.value.details == {"minimum": "1.00", "maximum": "500.00"}


def test_top_up_that_is_not_a_denomination_is_refused() -> None:
    rules = topup_rules(denominations_qepik=(100, 500))
    with pytest.raises(AmountNotADenomination) as excinfo:
        line().plan_top_up(operator(rules=rules), 300, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "amount_not_a_denomination"
    assert excinfo.value.details == {"allowed": ["1.00", "5.00"]}


def test_top_up_of_a_denomination_is_accepted() -> None:
    rules = topup_rules(denominations_qepik=(100, 500))
    plan = line().plan_top_up(operator(rules=rules), 500, today=TODAY, vat_bp=VAT_BP)
    assert plan.amount_qepik == 500
    assert plan.validity_days == 30


def test_top_up_on_a_closed_operator_is_refused() -> None:
    with pytest.raises(OperatorClosed) as excinfo:
        line().plan_top_up(operator(status=OperatorStatus.CLOSED), 500, today=TODAY, vat_bp=VAT_BP)
    assert excinfo.value.code == "operator_closed"
    assert excinfo.value.details == {"operator": "azercell", "closed_on": "2025-12-01"}


@given(
    st.integers(min_value=100, max_value=50_000),
    st.one_of(st.none(), st.integers(min_value=-180, max_value=400)),
)
def test_top_up_never_shortens_the_usage_period(amount: int, offset_days: int | None) -> None:
    valid_until = None if offset_days is None else TODAY + timedelta(days=offset_days)
    plan = line(valid_until=valid_until).plan_top_up(operator(), amount, today=TODAY, vat_bp=VAT_BP)
    start = TODAY if valid_until is None else max(valid_until, TODAY)
    assert plan.valid_until == start + timedelta(days=plan.validity_days)
    assert plan.validity_days >= 5
    assert plan.vat_qepik < amount


# plan_bundle_purchase


def test_bundle_purchase_plan() -> None:
    the_bundle = bundle()
    plan = line(valid_until=date(2026, 12, 1)).plan_bundle_purchase(
        the_bundle, now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False
    )
    assert plan.bundle == the_bundle
    assert plan.price_qepik == 1_500
    assert plan.vat_qepik == 229
    assert plan.expires_at == datetime(2026, 12, 23, 8, 0, tzinfo=UTC)
    assert plan.allowances == ((Unit.DATA_KB, 10_000_000),)


def test_bundle_allowances_are_non_zero_units_in_data_voice_sms_order() -> None:
    # Nar "3.5 GB": 250 minutes, 3.5 GB, 80 SMS, 6.77 AZN, 14 days.
    nar = bundle(
        code="nar-3-5gb",
        operator="nar",
        price_qepik=677,
        validity_days=14,
        sms_count=80,
        voice_seconds=250 * 60,
        data_kb=3_500_000,
    )
    plan = line().plan_bundle_purchase(nar, now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False)
    assert plan.allowances == ((Unit.DATA_KB, 3_500_000), (Unit.VOICE_SECONDS, 15_000), (Unit.SMS, 80))
    assert plan.vat_qepik == 103
    assert plan.expires_at == NOW + timedelta(days=14)


def test_bundle_allowances_skip_zero_units() -> None:
    voice_and_sms = bundle(data_kb=0, voice_seconds=6_000, sms_count=100)
    plan = line().plan_bundle_purchase(voice_and_sms, now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False)
    assert plan.allowances == ((Unit.VOICE_SECONDS, 6_000), (Unit.SMS, 100))


def test_exclusive_bundle_cannot_be_bought_while_active() -> None:
    exclusive = bundle(stacking=Stacking.EXCLUSIVE)
    with pytest.raises(BundleAlreadyActive) as excinfo:
        line().plan_bundle_purchase(exclusive, now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=True)
    assert excinfo.value.code == "bundle_already_active"
    assert excinfo.value.details == {"bundle": "azc-10gb-30d"}


def test_exclusive_bundle_can_be_bought_when_not_active() -> None:
    exclusive = bundle(stacking=Stacking.EXCLUSIVE)
    plan = line().plan_bundle_purchase(exclusive, now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False)
    assert plan.expires_at == NOW + timedelta(days=30)


def test_stacking_bundle_can_be_bought_while_active() -> None:
    stacking = bundle(stacking=Stacking.STACK)
    plan = line().plan_bundle_purchase(stacking, now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=True)
    assert plan.expires_at == NOW + timedelta(days=30)


def test_bundle_on_the_last_day_of_the_usage_period_is_accepted() -> None:
    plan = line(valid_until=TODAY).plan_bundle_purchase(
        bundle(), now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False
    )
    assert plan.price_qepik == 1_500


def test_bundle_after_the_usage_period_is_refused() -> None:
    with pytest.raises(LineValidityExpired) as excinfo:
        line(valid_until=TODAY - timedelta(days=1)).plan_bundle_purchase(
            bundle(), now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False
        )
    assert excinfo.value.code == "line_validity_expired"
    assert excinfo.value.details == {"valid_until": "2026-11-22"}


@pytest.mark.parametrize(("status", "code"), [(LineStatus.BARRED, "line_barred"), (LineStatus.CLOSED, "line_closed")])
def test_bundle_on_a_barred_or_closed_line_is_refused(status: LineStatus, code: str) -> None:
    with pytest.raises((LineBarred, LineClosed)) as excinfo:
        line(status=status).plan_bundle_purchase(
            bundle(), now=NOW, today=TODAY, vat_bp=VAT_BP, same_bundle_active=False
        )
    assert excinfo.value.code == code


# check_iccid


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body` + digit pass the Luhn check (ISO/IEC 7812), computed independently."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:  # every second digit from the right, counting the check digit as position 0
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def with_check_digit(body: str) -> str:
    return body + luhn_check_digit(body)


def test_luhn_helper_matches_a_known_number() -> None:
    # The textbook Luhn example (Wikipedia): 7992739871 has check digit 3.
    assert luhn_check_digit("7992739871") == "3"


@pytest.mark.parametrize("body", ["89994012345678901", "899940123456789012", "8999401234567890123"])
def test_check_iccid_accepts_18_to_20_digits_with_a_valid_check_digit(body: str) -> None:
    iccid = with_check_digit(body)
    assert len(iccid) in {18, 19, 20}
    assert check_iccid(iccid) == iccid


@pytest.mark.parametrize(
    "iccid",
    [
        with_check_digit("8999401234567890"),  # 17 digits
        with_check_digit("89994012345678901234"),  # 21 digits
        with_check_digit("799940123456789012"),  # does not start with 89
        "",
        "89994O1234567890128",  # letter O
        " " + with_check_digit("899940123456789012"),
    ],
)
def test_check_iccid_refuses_bad_shapes(iccid: str) -> None:
    with pytest.raises(InvalidIccid) as excinfo:
        check_iccid(iccid)
    assert excinfo.value.code == "invalid_iccid"


def test_check_iccid_refuses_a_wrong_check_digit() -> None:
    valid = with_check_digit("899940123456789012")
    wrong = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    with pytest.raises(InvalidIccid) as excinfo:
        check_iccid(wrong)
    assert excinfo.value.code == "invalid_iccid"


@given(st.text(alphabet="0123456789", min_size=15, max_size=17), st.integers(min_value=1, max_value=9))
def test_check_iccid_accepts_exactly_the_luhn_digit(tail: str, shift: int) -> None:
    valid = with_check_digit("89" + tail)
    assert check_iccid(valid) == valid
    wrong = valid[:-1] + str((int(valid[-1]) + shift) % 10)
    with pytest.raises(InvalidIccid) as excinfo:
        check_iccid(wrong)
    assert excinfo.value.code == "invalid_iccid"


# check_language


@pytest.mark.parametrize("language", ["az", "en", "ru", "zh"])
def test_check_language_accepts_the_supported_languages(language: str) -> None:
    assert check_language(language) == language


@pytest.mark.parametrize("language", ["fr", "", "AZ", "en-GB", "tr"])
def test_check_language_refuses_others(language: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_language(language)
    assert excinfo.value.code == "invalid_input"


# TopUpRules construction


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"amount_min_qepik": 50_001}, id="min-above-max"),
        pytest.param({"amount_min_qepik": 0}, id="min-zero"),
        pytest.param({"amount_min_qepik": -100}, id="min-negative"),
        pytest.param({"denominations_qepik": (100, 60_000)}, id="denomination-above-max"),
        pytest.param({"denominations_qepik": (50, 500)}, id="denomination-below-min"),
        pytest.param({"validity_tiers": (ValidityTier(500, 30), ValidityTier(100, 5))}, id="tiers-unsorted"),
        pytest.param({"validity_tiers": (ValidityTier(100, 5), ValidityTier(100, 10))}, id="tiers-repeated"),
        pytest.param({"validity_tiers": (ValidityTier(100, 0),)}, id="tier-zero-days"),
        pytest.param({"grace_days": -1}, id="grace-negative"),
    ],
)
def test_top_up_rules_refuse_inconsistent_settings(overrides: dict[str, object]) -> None:
    with pytest.raises(CatalogueInvalid) as excinfo:
        topup_rules(**overrides)
    assert excinfo.value.code == "catalogue_invalid"


def test_top_up_rules_accept_min_equal_to_max_and_denominations_at_the_bounds() -> None:
    rules = topup_rules(amount_min_qepik=100, amount_max_qepik=100, denominations_qepik=(100,))
    assert rules.amount_min_qepik == rules.amount_max_qepik == 100


# calendar


def test_baku_date_is_four_hours_ahead_of_utc() -> None:
    assert baku_date(datetime(2026, 11, 23, 20, 30, tzinfo=UTC)) == date(2026, 11, 24)
    assert baku_date(datetime(2026, 11, 23, 19, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert baku_date(datetime(2026, 11, 23, 20, 0, tzinfo=UTC)) == date(2026, 11, 24)


def test_baku_date_has_no_summer_time() -> None:
    # Azerbaijan abolished DST in 2016: midsummer is UTC+4 too.
    assert baku_date(datetime(2026, 7, 1, 19, 59, tzinfo=UTC)) == date(2026, 7, 1)
    assert baku_date(datetime(2026, 7, 1, 20, 0, tzinfo=UTC)) == date(2026, 7, 2)


def test_baku_date_converts_from_any_time_zone() -> None:
    new_york_winter = timezone(timedelta(hours=-5))
    assert baku_date(datetime(2026, 11, 23, 15, 0, tzinfo=new_york_winter)) == date(2026, 11, 24)


def test_baku_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        baku_date(datetime(2026, 11, 23, 20, 30))  # noqa: DTZ001 - the naive value is the point of the test
