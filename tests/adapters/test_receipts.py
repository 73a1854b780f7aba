"""Receipt renderers: the HTML page and the PDF say the same facts, in the line's language, safely."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from topup.adapters.receipts import render_receipt_html, render_receipt_pdf
from topup.adapters.receipts.content import data_size, percent
from topup.domain.catalogue import Bundle, Operator, OperatorStatus, Tariff, TopUpRules
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind
from topup.domain.money import included_vat
from topup.services.history import Receipt

NUMBER = "+994501234567"
MASKED = "+994 50 *** ** 67"
CODE = "K7Q4-9XPD"
VAT_RATE_BASIS_POINTS = 1800

OPERATOR = Operator(
    code="azercell",
    name="Azercell",
    status=OperatorStatus.ACTIVE,
    topup=TopUpRules(amount_min_qepik=100, amount_max_qepik=50_000),
    tariff=Tariff(
        data_qepik_per_mb=10,
        data_increment_kb=100,
        voice_qepik_per_minute=10,
        voice_increment_seconds=60,
        sms_qepik=5,
    ),
)


def bundle(name_en: str = "Internet 5 GB") -> Bundle:
    return Bundle(
        code="AZ5GB",
        operator="azercell",
        names={"az": "İnternet 5 GB", "en": name_en, "ru": "Интернет 5 ГБ", "zh": "流量包 5 GB"},
        price_qepik=800,
        validity_days=30,
        data_kb=5_000_000,
        voice_seconds=6_000,
        sms_count=50,
    )


def topup_receipt(language: str = "en") -> Receipt:
    record = TransactionRecord(
        id="T0001ABC",
        msisdn=NUMBER,
        operator="azercell",
        kind=TransactionKind.TOPUP,
        channel="portal",
        amount_qepik=500,
        vat_qepik=included_vat(500, VAT_RATE_BASIS_POINTS),
        balance_after_qepik=1_250,
        valid_until=date(2026, 12, 23),
        created_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        verification_code=CODE,
    )
    return Receipt(record, OPERATOR, None, language, VAT_RATE_BASIS_POINTS)


def bundle_receipt(language: str = "en", name_en: str = "Internet 5 GB") -> Receipt:
    base = topup_receipt(language)
    record = dataclasses.replace(
        base.record,
        kind=TransactionKind.BUNDLE_PURCHASE,
        amount_qepik=800,
        vat_qepik=included_vat(800, VAT_RATE_BASIS_POINTS),
        valid_until=None,
        bundle_code="AZ5GB",
        bundle_expires_at=datetime(2026, 12, 23, 19, 59, tzinfo=UTC),
    )
    return dataclasses.replace(base, record=record, bundle=bundle(name_en))


def pdf_info(pdf: bytes, key: str) -> str:
    """A document-information string: a (literal) when ASCII, else <hex> UTF-16 with a byte-order mark."""
    match = re.search(rb"/" + key.encode() + rb" (?:\((?P<literal>[^)]*)\)|<(?P<hex>[0-9a-fA-F]+)>)", pdf)
    assert match is not None, f"no /{key} in the PDF"
    if match["literal"] is not None:
        return match["literal"].decode("latin-1")
    return bytes.fromhex(match["hex"].decode()).decode("utf-16")


def test_html_shows_the_masked_number_and_never_the_full_one() -> None:
    html = render_receipt_html(topup_receipt())

    assert MASKED in html
    assert NUMBER not in html
    assert "501234567" not in html


def test_html_shows_amount_vat_balance_and_validity() -> None:
    html = render_receipt_html(topup_receipt())

    assert "5.00 AZN" in html
    assert "of which VAT 18%" in html
    assert "0.76 AZN" in html
    assert "12.50 AZN" in html
    assert "Line valid until" in html
    assert "2026-12-23" in html
    assert "Top-up" in html


def test_html_shows_time_in_baku_and_the_identifiers() -> None:
    html = render_receipt_html(topup_receipt())

    assert "2026-11-23 14:00 +04:00" in html
    assert "Asia/Baku" in html
    assert "T0001ABC" in html
    assert CODE in html
    assert "Azercell" in html
    assert "Web portal" in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("az", ["Qəbz", "Məbləğ", "o cümlədən ƏDV 18%", "Təsdiq kodu", "Balansın artırılması"]),
        ("ru", ["Квитанция", "Сумма", "в т. ч. НДС 18%", "Код проверки", "Пополнение баланса"]),
        ("zh", ["收据", "金额", "其中增值税 18%", "验证码", "话费充值"]),
    ],
)
def test_html_speaks_the_receipt_language(language: str, expected: list[str]) -> None:
    html = render_receipt_html(topup_receipt(language))

    assert f'<html lang="{language}">' in html
    for text in expected:
        assert text in html
    assert "Receipt" not in html


def test_html_bundle_purchase_shows_the_bundle_allowances_and_expiry_in_baku() -> None:
    html = render_receipt_html(bundle_receipt())

    assert "Bundle purchase" in html
    assert "Internet 5 GB" in html
    assert "5 GB · 100 min · 50 SMS" in html
    assert "Bundle valid until" in html
    assert "2026-12-23 23:59 +04:00" in html
    assert "8.00 AZN" in html
    assert "1.22 AZN" in html
    assert "Line valid until" not in html


def test_html_bundle_name_in_the_receipt_language() -> None:
    html = render_receipt_html(bundle_receipt("az"))

    assert "İnternet 5 GB" in html
    assert "5 GB · 100 dəq · 50 SMS" in html


def test_html_escapes_a_bundle_name_with_markup() -> None:
    html = render_receipt_html(bundle_receipt(name_en='Fun <script>alert("x")</script>'))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_html_prints_the_verify_url_and_refuses_other_schemes() -> None:
    html = render_receipt_html(topup_receipt(), verify_url="https://topup.example/verify?code=K7Q4&x=1")

    assert 'href="https://topup.example/verify?code=K7Q4&amp;x=1"' in html
    assert "Check at" in html
    assert "Check at" not in render_receipt_html(topup_receipt())
    with pytest.raises(ValueError, match="http"):
        render_receipt_html(topup_receipt(), verify_url="javascript:alert(1)")


def test_html_is_self_contained() -> None:
    html = render_receipt_html(topup_receipt())

    assert "@media print" in html
    assert "<link" not in html
    assert "src=" not in html


@pytest.mark.parametrize(
    ("data_kb", "expected"),
    [(5_000_000, "5 GB"), (1_500_000, "1.5 GB"), (500_000, "500 MB"), (1_250, "1.25 MB"), (250, "250 KB")],
)
def test_data_sizes_use_the_operators_decimal_units(data_kb: int, expected: str) -> None:
    assert data_size(data_kb) == expected


def test_data_size_never_rounds_an_allowance() -> None:
    assert data_size(1_234_567) == "1234567 KB"


@pytest.mark.parametrize(("basis_points", "expected"), [(1800, "18%"), (1850, "18.5%"), (1805, "18.05%")])
def test_vat_rate_is_printed_as_a_percentage(basis_points: int, expected: str) -> None:
    assert percent(basis_points) == expected


def test_pdf_is_one_page_named_after_the_transaction() -> None:
    pdf = render_receipt_pdf(topup_receipt())

    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page(?!s)", pdf)) == 1
    assert pdf_info(pdf, "Title") == "Receipt T0001ABC"
    assert pdf_info(pdf, "Subject") == f"Verification code: {CODE}"
    assert pdf_info(pdf, "Author") == "Azercell"


def test_pdf_embeds_a_unicode_font_for_azerbaijani_and_russian() -> None:
    azerbaijani = render_receipt_pdf(bundle_receipt("az"))
    russian = render_receipt_pdf(bundle_receipt("ru"))

    assert b"/FontFile2" in azerbaijani
    assert b"DejaVuSans" in azerbaijani
    assert pdf_info(azerbaijani, "Title") == "Qəbz T0001ABC"
    assert pdf_info(russian, "Subject") == f"Код проверки: {CODE}"


def test_pdf_for_chinese_readers_is_in_english() -> None:
    pdf = render_receipt_pdf(bundle_receipt("zh"))

    assert pdf_info(pdf, "Title") == "Receipt T0001ABC"


def test_pdf_renders_the_same_bytes_every_time() -> None:
    assert render_receipt_pdf(bundle_receipt("az")) == render_receipt_pdf(bundle_receipt("az"))


def test_pdf_text_holds_the_code_and_masked_number() -> None:
    pdf = PdfReader(io.BytesIO(render_receipt_pdf(bundle_receipt("az"))))
    text = "\n".join(page.extract_text() for page in pdf.pages)

    assert CODE in text
    assert MASKED in text
    assert NUMBER not in text
    assert "Məbləğ" in text
    assert "2026-11-23 14:00 +04:00" in text
