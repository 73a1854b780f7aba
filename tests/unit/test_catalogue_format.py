"""The catalogue's TOML format: the shipped sample parses to what DOMAIN.md says; bad files are refused."""

from __future__ import annotations

import re
from datetime import date
from importlib.resources import files

import pytest

from topup.domain.catalogue import LANGUAGES, Catalogue, OperatorStatus, Stacking
from topup.domain.catalogue_format import parse_catalogue
from topup.domain.errors import CatalogueInvalid, OperatorClosed

# ----------------------------------------------------------------------------------------------------------
# The shipped sample
# ----------------------------------------------------------------------------------------------------------


def _sample_text() -> str:
    return (files("topup") / "data" / "catalogue.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sample() -> Catalogue:
    return parse_catalogue(_sample_text())


def test_sample_has_its_version_and_vat(sample: Catalogue) -> None:
    assert sample.version == "2026.12-sample.4"
    assert sample.vat_rate_basis_points == 1800


def test_sample_header_says_it_is_a_sample_and_how_to_change_it() -> None:
    header = _sample_text().split("version =", 1)[0]
    assert "SAMPLE" in header
    assert "not an operator's" in header
    assert "bump `version`" in header
    assert "topup catalogue load FILE" in header


def test_sample_has_the_four_operators(sample: Catalogue) -> None:
    assert sorted(sample.operators) == ["azercell", "bakcell", "nar", "naxtel"]
    assert {code: operator.status for code, operator in sample.operators.items()} == {
        "azercell": OperatorStatus.ACTIVE,
        "bakcell": OperatorStatus.ACTIVE,
        "nar": OperatorStatus.ACTIVE,
        "naxtel": OperatorStatus.CLOSED,
    }


def test_naxtel_is_closed_since_the_first_of_december_2025(sample: Catalogue) -> None:
    naxtel = sample.operator("naxtel")
    assert naxtel.closed_on == date(2025, 12, 1)
    assert naxtel.bundles == {}
    with pytest.raises(OperatorClosed) as caught:
        naxtel.ensure_open()
    assert caught.value.details == {"operator": "naxtel", "closed_on": "2025-12-01"}


def test_active_operators_have_no_closing_date(sample: Catalogue) -> None:
    for code in ("azercell", "bakcell", "nar"):
        assert sample.operator(code).closed_on is None
        sample.operator(code).ensure_open()


@pytest.mark.parametrize(
    ("amount_qepik", "validity_days"),
    [
        (100, 5),
        (199, 5),
        (200, 10),
        (299, 10),
        (300, 20),
        (499, 20),
        (500, 30),
        (999, 30),
        (1000, 60),
        (2499, 60),
        (2500, 90),
        (4999, 90),
        (5000, 120),
        (100_000, 120),
    ],
)
def test_azercell_tiers_are_the_published_ones(sample: Catalogue, amount_qepik: int, validity_days: int) -> None:
    assert sample.operator("azercell").topup.validity_days_for(amount_qepik) == validity_days


def test_azercell_top_up_rules(sample: Catalogue) -> None:
    rules = sample.operator("azercell").topup
    assert rules.amount_min_qepik == 100
    assert rules.amount_max_qepik == 50_000
    assert rules.grace_days == 180
    assert rules.denominations_qepik == ()


def test_real_operators_accept_any_amount(sample: Catalogue) -> None:
    for code in ("azercell", "bakcell", "nar"):
        assert sample.operator(code).topup.denominations_qepik == ()


def test_nar_bills_data_in_five_megabyte_steps(sample: Catalogue) -> None:
    assert sample.operator("nar").tariff.data_increment_kb == 5000


def test_azercell_ten_gigabytes_for_fifteen_manat(sample: Catalogue) -> None:
    bundle = sample.bundle("azercell-10gb-30d", operator="azercell")
    assert bundle.price_qepik == 1500
    assert bundle.validity_days == 30
    assert bundle.data_kb == 10_000_000
    assert bundle.auto_renew is True


def test_nar_three_and_a_half_gigabytes(sample: Catalogue) -> None:
    bundle = sample.bundle("nar-3-5gb-14d", operator="nar")
    assert bundle.data_kb == 3_500_000
    assert bundle.voice_seconds == 15_000
    assert bundle.sms_count == 80
    assert bundle.price_qepik == 677
    assert bundle.validity_days == 14
    assert bundle.stacking is Stacking.STACK


def test_nar_superday(sample: Catalogue) -> None:
    bundle = sample.bundle("nar-superday-1d", operator="nar")
    assert bundle.price_qepik == 100
    assert bundle.validity_days == 1
    assert bundle.stacking is Stacking.EXCLUSIVE


def test_each_active_operator_sells_four_to_six_bundles(sample: Catalogue) -> None:
    for code in ("azercell", "bakcell", "nar"):
        assert 4 <= len(sample.operator(code).bundles) <= 6, code


def test_every_bundle_is_named_in_the_four_languages(sample: Catalogue) -> None:
    for operator in sample.operators.values():
        for bundle in operator.bundles.values():
            assert sorted(bundle.names) == sorted(LANGUAGES), bundle.code
            assert all(name.strip() for name in bundle.names.values()), bundle.code
            assert re.search(r"[\u4e00-\u9fff]", bundle.names["zh"]), bundle.code


def test_bundle_codes_are_unique_kebab_case_and_start_with_their_operator() -> None:
    codes = re.findall(r'^code = "([^"]*)"', _sample_text(), flags=re.MULTILINE)
    assert len(codes) == 14
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), code


def test_bundles_belong_to_the_operator_they_are_listed_under(sample: Catalogue) -> None:
    for operator in sample.operators.values():
        for code, bundle in operator.bundles.items():
            assert bundle.code == code
            assert bundle.operator == operator.code
            assert code.startswith(f"{operator.code}-")


def test_there_is_a_roaming_pack_at_azercell(sample: Catalogue) -> None:
    roaming = [bundle.code for bundle in sample.operator("azercell").bundles.values() if bundle.roaming]
    assert roaming == ["azercell-roaming-1gb-7d"]


# ----------------------------------------------------------------------------------------------------------
# Bad files
# ----------------------------------------------------------------------------------------------------------

_MINIMAL = """\
version = "test.1"
vat_percent = "18"

[operators.acme]
name = "Acme"
status = "active"

[operators.acme.topup]
min = "1.00"
max = "100.00"
grace_days = 30
validity_tiers = [{from = "1.00", days = 5}, {from = "10.00", days = 30}]

[operators.acme.tariff]
data_per_mb = "0.10"
data_increment_kb = 100
voice_per_minute = "0.10"
voice_increment_seconds = 60
sms = "0.05"

[[operators.acme.bundles]]
code = "acme-1gb-7d"
name = {az = "Həftəlik 1 GB", en = "Weekly 1 GB", ru = "Недельный 1 ГБ", zh = "每周 1 GB 流量包"}
price = "3.00"
validity_days = 7
data_mb = 1000
minutes = 50
sms = 10
auto_renew = false
stacking = "stack"
roaming = false
"""

_BUNDLE_NAME_LINE = 'name = {az = "Həftəlik 1 GB", en = "Weekly 1 GB", ru = "Недельный 1 ГБ", zh = "每周 1 GB 流量包"}'
assert _BUNDLE_NAME_LINE in _MINIMAL

_SECOND_BUNDLE = """
[[operators.acme.bundles]]
code = "acme-1gb-7d"
name = {az = "A", en = "B", ru = "В", zh = "包"}
price = "5.00"
validity_days = 7
data_mb = 2000
"""

_SECOND_OPERATOR = """
[operators.other]
name = "Other"

[operators.other.topup]
min = "1.00"
max = "100.00"

[operators.other.tariff]
data_per_mb = "0.10"
data_increment_kb = 100
voice_per_minute = "0.10"
voice_increment_seconds = 60
sms = "0.05"

[[operators.other.bundles]]
code = "acme-1gb-7d"
name = {az = "A", en = "B", ru = "В", zh = "包"}
price = "5.00"
validity_days = 7
data_mb = 2000
"""


def catalogue_text(old: str | None = None, new: str = "", *, extra: str = "") -> str:
    """The minimal valid catalogue, with the line `old` (which must occur once) replaced by `new`."""
    text = _MINIMAL
    if old is not None:
        assert text.count(old + "\n") == 1, f"{old!r} is not exactly one line of the minimal catalogue"
        text = text.replace(old + "\n", new + "\n" if new else "")
    return text + extra


def assert_refused(text: str, fragment: str) -> CatalogueInvalid:
    with pytest.raises(CatalogueInvalid) as caught:
        parse_catalogue(text)
    assert caught.value.code == "catalogue_invalid"
    assert fragment in caught.value.message
    return caught.value


def test_the_minimal_catalogue_is_valid() -> None:
    catalogue = parse_catalogue(catalogue_text())
    bundle = catalogue.bundle("acme-1gb-7d", operator="acme")
    assert (bundle.data_kb, bundle.voice_seconds, bundle.sms_count) == (1_000_000, 3000, 10)
    assert (bundle.auto_renew, bundle.roaming, bundle.stacking) == (False, False, Stacking.STACK)
    assert catalogue.operator("acme").topup.validity_days_for(1000) == 30


def test_refuses_text_that_is_not_toml() -> None:
    assert_refused("version = \nthis is not TOML", "The catalogue file is not valid TOML")


def test_refuses_a_catalogue_without_version() -> None:
    assert_refused(catalogue_text('version = "test.1"'), "The catalogue is missing or mistypes a field: 'version'")


def test_refuses_an_empty_version() -> None:
    assert_refused(catalogue_text('version = "test.1"', 'version = ""'), "version must be a non-empty string.")


def test_refuses_a_catalogue_without_operators_table() -> None:
    assert_refused('version = "test.1"\nvat_percent = "18"\n', "missing or mistypes a field: 'operators'")


def test_refuses_a_catalogue_with_an_empty_operators_table() -> None:
    assert_refused('version = "test.1"\nvat_percent = "18"\n[operators]\n', "The catalogue has no operators.")


def test_refuses_a_minimum_above_the_maximum() -> None:
    assert_refused(
        catalogue_text('min = "1.00"', 'min = "200.00"'),
        "Top-up minimum must be positive and not above the maximum.",
    )


def test_refuses_validity_tiers_out_of_order() -> None:
    assert_refused(
        catalogue_text(
            'validity_tiers = [{from = "1.00", days = 5}, {from = "10.00", days = 30}]',
            'validity_tiers = [{from = "10.00", days = 30}, {from = "1.00", days = 5}]',
        ),
        "Validity tiers must be in increasing order of amount, without repeats.",
    )


def test_refuses_repeated_validity_tiers() -> None:
    assert_refused(
        catalogue_text(
            'validity_tiers = [{from = "1.00", days = 5}, {from = "10.00", days = 30}]',
            'validity_tiers = [{from = "1.00", days = 5}, {from = "1.00", days = 30}]',
        ),
        "Validity tiers must be in increasing order of amount, without repeats.",
    )


def test_refuses_negative_validity_days() -> None:
    assert_refused(
        catalogue_text(
            'validity_tiers = [{from = "1.00", days = 5}, {from = "10.00", days = 30}]',
            'validity_tiers = [{from = "1.00", days = -5}, {from = "10.00", days = 30}]',
        ),
        "Validity and grace days must be positive.",
    )


def test_refuses_negative_grace_days() -> None:
    assert_refused(catalogue_text("grace_days = 30", "grace_days = -1"), "Validity and grace days must be positive.")


def test_refuses_a_bundle_without_a_chinese_name() -> None:
    assert_refused(
        catalogue_text(
            _BUNDLE_NAME_LINE,
            'name = {az = "Həftəlik 1 GB", en = "Weekly 1 GB", ru = "Недельный 1 ГБ"}',
        ),
        "Bundle acme-1gb-7d: names missing for zh.",
    )


def test_refuses_a_bundle_name_that_is_not_a_table() -> None:
    assert_refused(
        catalogue_text(
            _BUNDLE_NAME_LINE,
            'name = "Weekly 1 GB"',
        ),
        "A bundle's name is a table of language = text.",
    )


def test_refuses_a_bundle_code_twice_within_an_operator() -> None:
    assert_refused(catalogue_text(extra=_SECOND_BUNDLE), "Bundle code acme-1gb-7d appears twice.")


def test_refuses_a_bundle_code_shared_by_two_operators() -> None:
    assert_refused(catalogue_text(extra=_SECOND_OPERATOR), "acme-1gb-7d")


@pytest.mark.parametrize("price", ['"abc"', '"-1"', '"0"', '"1.001"', '"1e3"', '" 3.00"'])
def test_refuses_a_price_that_is_not_a_positive_decimal_string(price: str) -> None:
    assert_refused(catalogue_text('price = "3.00"', f"price = {price}"), "The catalogue has a bad value: Amount")


@pytest.mark.parametrize("price", ["3", "3.0", '""'])
def test_refuses_a_price_that_is_not_a_string(price: str) -> None:
    assert_refused(catalogue_text('price = "3.00"', f"price = {price}"), "price must be a non-empty string.")


def test_a_bad_price_names_the_offending_text() -> None:
    error = assert_refused(
        catalogue_text('price = "3.00"', 'price = "abc"'),
        "The catalogue has a bad value: Amount must be a positive decimal with at most two decimal places",
    )
    assert error.details == {"amount": "abc"}


def test_refuses_an_unknown_stacking() -> None:
    assert_refused(
        catalogue_text('stacking = "stack"', 'stacking = "weird"'), "stacking must be one of stack, exclusive."
    )


def test_refuses_an_unknown_status() -> None:
    assert_refused(catalogue_text('status = "active"', 'status = "weird"'), "status must be one of active, closed.")


@pytest.mark.parametrize("closed_on", ['"2025-12-01"', "20251201", "true"])
def test_refuses_a_closing_date_that_is_not_a_date(closed_on: str) -> None:
    assert_refused(
        catalogue_text('status = "active"', f'status = "closed"\nclosed_on = {closed_on}'),
        "Operator acme: closed_on must be a date.",
    )


def test_refuses_a_closing_date_with_a_time() -> None:
    assert_refused(
        catalogue_text('status = "active"', 'status = "closed"\nclosed_on = 2025-12-01T00:00:00'),
        "Operator acme: closed_on must be a date.",
    )


def test_refuses_a_bundle_with_no_allowance() -> None:
    text = catalogue_text("data_mb = 1000").replace("minutes = 50\n", "").replace("sms = 10\n", "")
    assert_refused(text, "Bundle acme-1gb-7d: allowances must be non-negative, at least one set.")


def test_refuses_a_negative_allowance() -> None:
    assert_refused(
        catalogue_text("minutes = 50", "minutes = -50"),
        "Bundle acme-1gb-7d: allowances must be non-negative, at least one set.",
    )


def test_refuses_validity_days_that_are_not_whole_numbers() -> None:
    assert_refused(catalogue_text("validity_days = 7", 'validity_days = "7"'), "validity_days must be a whole number.")


def test_refuses_a_denomination_outside_the_range() -> None:
    assert_refused(
        catalogue_text("grace_days = 30", 'grace_days = 30\ndenominations = ["1.00", "500.00"]'),
        "Every denomination must lie between the minimum and the maximum.",
    )


def test_refuses_a_missing_tariff() -> None:
    text = catalogue_text().split("[operators.acme.tariff]", 1)[0]
    assert_refused(text, "missing or mistypes a field: 'tariff'")


def test_refuses_a_top_up_that_is_not_a_table() -> None:
    text = (
        catalogue_text()
        .replace("[operators.acme.topup]\n", "")
        .replace('name = "Acme"\n', 'name = "Acme"\ntopup = "any"\n')
    )
    # The topup keys now belong to [operators.acme]; what matters is that `topup` is refused as a table.
    assert_refused(text, "topup must be a table.")


# Allowances and flags are converted with int() and bool(), which accept what the format does not: a number
# written as a string is read, a fraction is cut off, and the string "false" is true. Each must be refused.
@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("data_mb = 1000", 'data_mb = "1000"', id="data_mb-as-string"),
        pytest.param("data_mb = 1000", "data_mb = 1000.5", id="data_mb-as-fraction"),
        pytest.param("minutes = 50", 'minutes = "50"', id="minutes-as-string"),
        pytest.param("sms = 10", "sms = true", id="sms-as-boolean"),
        pytest.param("grace_days = 30", 'grace_days = "30"', id="grace_days-as-string"),
        pytest.param("auto_renew = false", 'auto_renew = "false"', id="auto_renew-as-string"),
        pytest.param("roaming = false", "roaming = 0", id="roaming-as-number"),
    ],
)
def test_refuses_allowances_and_flags_of_the_wrong_type(old: str, new: str) -> None:
    assert_refused(catalogue_text(old, new), "must be")


def test_data_mb_that_is_not_a_number_at_all_is_refused() -> None:
    assert_refused(catalogue_text("data_mb = 1000", 'data_mb = "abc"'), "data_mb must be a whole number.")
