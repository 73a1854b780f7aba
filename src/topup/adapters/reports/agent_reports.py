"""An agent's statement and end-of-day report as CSV (for its accounts) and PDF (to print and sign), in
Azerbaijani, English or Russian. Times in Baku, money as decimal AZN."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from topup.adapters.receipts.pdf import FONT_FAMILY, FONTS_DIRECTORY
from topup.domain.agents import Movement
from topup.domain.calendar import BAKU
from topup.domain.money import format_amount
from topup.services.agent_reports import DailyReport

LANGUAGES = ("az", "en", "ru")
LABELS: dict[str, dict[str, str]] = {
    "az": {
        "title": "Günün hesabatı",
        "agent": "Agent",
        "licence": "Lisenziya",
        "day": "Gün",
        "opening_float": "Günün əvvəlinə balans",
        "closing_float": "Günün sonuna balans",
        "credit_available": "İstifadə oluna bilən kredit",
        "credit_used": "İstifadə olunmuş kredit",
        "sales": "Satışlar",
        "sales_amount": "Satış məbləği",
        "commission": "Komissiya",
        "commission_balance": "Komissiya balansı",
        "deposits": "Ödənişlər (depozit)",
        "payouts": "Komissiya ödənişləri",
        "kiosk_cash": "Kioskda nağd pul",
        "by_operator": "Operatorlar üzrə",
        "movements": "Əməliyyatlar",
        "time": "Vaxt",
        "kind": "Növ",
        "number": "Nömrə",
        "product": "Məhsul",
        "amount": "Məbləğ",
        "float_after": "Balans",
        "signature": "İmza",
        "deposit": "depozit",
        "credit_limit": "kredit limiti",
        "sale": "satış",
        "commission_kind": "komissiya",
        "commission_payout": "komissiya ödənişi",
        "kiosk_payment": "kiosk ödənişi",
    },
    "en": {
        "title": "End-of-day report",
        "agent": "Agent",
        "licence": "Licence",
        "day": "Day",
        "opening_float": "Float at opening",
        "closing_float": "Float at closing",
        "credit_available": "Credit available",
        "credit_used": "Credit used",
        "sales": "Sales",
        "sales_amount": "Sales amount",
        "commission": "Commission earned",
        "commission_balance": "Commission balance",
        "deposits": "Deposits",
        "payouts": "Commission paid out",
        "kiosk_cash": "Cash taken (kiosk)",
        "by_operator": "By operator",
        "movements": "Movements",
        "time": "Time",
        "kind": "Kind",
        "number": "Number",
        "product": "Product",
        "amount": "Amount",
        "float_after": "Float after",
        "signature": "Signature",
        "deposit": "deposit",
        "credit_limit": "credit limit",
        "sale": "sale",
        "commission_kind": "commission",
        "commission_payout": "commission payout",
        "kiosk_payment": "kiosk payment",
    },
    "ru": {
        "title": "Отчёт за день",
        "agent": "Агент",
        "licence": "Лицензия",
        "day": "День",
        "opening_float": "Баланс на начало дня",
        "closing_float": "Баланс на конец дня",
        "credit_available": "Доступный кредит",
        "credit_used": "Использованный кредит",
        "sales": "Продажи",
        "sales_amount": "Сумма продаж",
        "commission": "Комиссия",
        "commission_balance": "Баланс комиссии",
        "deposits": "Пополнения",
        "payouts": "Выплаты комиссии",
        "kiosk_cash": "Наличные в киоске",
        "by_operator": "По операторам",
        "movements": "Операции",
        "time": "Время",
        "kind": "Вид",
        "number": "Номер",
        "product": "Продукт",
        "amount": "Сумма",
        "float_after": "Баланс",
        "signature": "Подпись",
        "deposit": "пополнение",
        "credit_limit": "кредитный лимит",
        "sale": "продажа",
        "commission_kind": "комиссия",
        "commission_payout": "выплата комиссии",
        "kiosk_payment": "оплата в киоске",
    },
}
STATEMENT_COLUMNS = (
    "time",
    "kind",
    "amount",
    "float_after",
    "credit_after",
    "commission_after",
    "number",
    "operator",
    "product",
    "transaction_id",
    "note",
)


def statement_csv(movements: list[Movement]) -> str:
    """Machine-readable: fixed English column names, ISO times (UTC offset included), plain decimals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_COLUMNS)
    for m in movements:
        writer.writerow(
            (
                m.created_at.astimezone(BAKU).isoformat(),
                m.kind.value,
                format_amount(m.amount_qepik),
                format_amount(m.float_after_qepik),
                format_amount(m.credit_after_qepik),
                format_amount(m.commission_after_qepik),
                m.msisdn or "",
                m.operator or "",
                m.product or "",
                m.transaction_id or "",
                m.note or "",
            )
        )
    return out.getvalue()


def daily_report_csv(report: DailyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("field", "value"))
    for key, value in _summary(report):
        writer.writerow((key, value))
    for operator, (count, amount) in report.sales_by_operator.items():
        writer.writerow((f"sales:{operator}", f"{count} / {format_amount(amount)}"))
    writer.writerow(())
    return out.getvalue() + statement_csv(report.movements)


def daily_report_pdf(report: DailyReport, *, language: str = "az") -> bytes:
    words = LABELS[language if language in LABELS else "en"]
    pdf = FPDF(orientation="portrait", unit="mm", format=(210.0, 297.0))
    pdf.add_font(FONT_FAMILY, "", FONTS_DIRECTORY / "DejaVuSans.ttf")
    pdf.add_font(FONT_FAMILY, "B", FONTS_DIRECTORY / "DejaVuSans-Bold.ttf")
    pdf.set_title(f"{words['title']} {report.agent.name} {report.day.isoformat()}")
    pdf.set_creator("Topup")
    pdf.set_lang(language)
    # The day's end, not "now": the same report renders to the same bytes every time.
    pdf.set_creation_date(datetime.combine(report.day, time(23, 59), tzinfo=BAKU).astimezone(UTC))
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 16)
    pdf.cell(0, 9, words["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "", 10)
    for label, value in (
        (words["agent"], report.agent.name),
        (words["licence"], report.agent.licence_number),
        (words["day"], report.day.strftime("%d.%m.%Y")),
    ):
        pdf.cell(0, 6, f"{label}: {value}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    _pairs(pdf, [(words[key], value) for key, value in _summary(report)])
    if report.sales_by_operator:
        pdf.set_font(FONT_FAMILY, "B", 11)
        pdf.cell(0, 8, words["by_operator"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _pairs(
            pdf,
            [
                (operator.title(), f"{count}: {format_amount(amount)} AZN")
                for operator, (count, amount) in report.sales_by_operator.items()
            ],
        )
    _movements(pdf, report.movements, words)
    pdf.ln(12)
    pdf.set_font(FONT_FAMILY, "", 10)
    pdf.cell(0, 6, f"{words['signature']}: ______________________", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _summary(report: DailyReport) -> list[tuple[str, str]]:
    money = format_amount
    return [
        ("opening_float", money(report.opening.float_qepik)),
        ("sales", str(report.sales_count)),
        ("sales_amount", money(report.sales_qepik)),
        ("commission", money(report.commission_qepik)),
        ("deposits", money(report.deposits_qepik)),
        ("payouts", money(report.payouts_qepik)),
        ("kiosk_cash", money(report.kiosk_cash_qepik)),
        ("closing_float", money(report.closing.float_qepik)),
        ("credit_available", money(report.closing.credit_available_qepik)),
        ("credit_used", money(report.credit_used_closing_qepik)),
        ("commission_balance", money(report.closing.commission_qepik)),
    ]


def _pairs(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    pdf.set_font(FONT_FAMILY, "", 10)
    for label, value in rows:
        pdf.cell(110, 6, label)
        pdf.cell(0, 6, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _movements(pdf: FPDF, movements: list[Movement], words: dict[str, str]) -> None:
    pdf.ln(3)
    pdf.set_font(FONT_FAMILY, "B", 11)
    pdf.cell(0, 8, words["movements"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "", 8.5)
    with pdf.table(
        col_widths=(16, 30, 30, 34, 22, 22),
        text_align=(Align.L, Align.L, Align.L, Align.L, Align.R, Align.R),
        line_height=5,
    ) as table:
        heading = table.row()
        for key in ("time", "kind", "number", "product", "amount", "float_after"):
            heading.cell(words[key])
        for m in movements:
            kind_key = "commission_kind" if m.kind.value == "commission" else m.kind.value
            row = table.row()
            row.cell(m.created_at.astimezone(BAKU).strftime("%H:%M"))
            row.cell(words.get(kind_key, m.kind.value))
            row.cell(m.msisdn or "")
            row.cell(m.product or "")
            row.cell(format_amount(m.amount_qepik))
            row.cell(format_amount(m.float_after_qepik))
