"""A receipt as a one-page PDF with the DejaVu fonts embedded, so ə ğ ı ö ş ü ç and Cyrillic print anywhere."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from topup.adapters.receipts.content import ReceiptContent, receipt_content
from topup.services.history import Receipt

FONTS_DIRECTORY = Path(__file__).parent / "fonts"
FONT_FAMILY = "DejaVuSans"
# DejaVu has no Chinese glyphs, and embedding a CJK font would add megabytes to every download: a Chinese
# reader gets the PDF in English (bundle name included) and the HTML receipt in Chinese.
LANGUAGES_WITHOUT_GLYPHS = {"zh": "en"}
# A5 (half a sheet) prints on any office printer and reads on a phone without zooming. Given in millimetres,
# since fpdf2 warns that it changed its own "A5" in 2.8.5, and tests turn warnings into errors.
PAGE_SIZE_MM = (148.0, 210.0)
MARGIN_MM = 14
GREY = (85, 85, 85)
BLACK = (17, 17, 17)


def render_receipt_pdf(receipt: Receipt) -> bytes:
    language = LANGUAGES_WITHOUT_GLYPHS.get(receipt.language, receipt.language)
    content = receipt_content(receipt, language=language)
    pdf = _new_document(content, receipt)
    _draw_header(pdf, content)
    _draw_lines(pdf, content)
    _draw_verification_code(pdf, content)
    _draw_footer(pdf, content)
    return bytes(pdf.output())


def _new_document(content: ReceiptContent, receipt: Receipt) -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format=PAGE_SIZE_MM)
    pdf.add_font(FONT_FAMILY, "", FONTS_DIRECTORY / "DejaVuSans.ttf")
    pdf.add_font(FONT_FAMILY, "B", FONTS_DIRECTORY / "DejaVuSans-Bold.ttf")
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
    # The metadata names the receipt, so a downloaded file says what it is (and tests can read it back).
    pdf.set_title(f"{content.title} {content.transaction_id}")
    pdf.set_subject(f"{content.verification_label}: {content.verification_code}")
    pdf.set_author(content.operator_name)
    pdf.set_creator("Topup")
    pdf.set_lang(content.language)
    # The transaction's own time instead of "now": the same receipt renders to the same bytes every time.
    pdf.set_creation_date(receipt.record.created_at)
    pdf.add_page()
    return pdf


def _draw_header(pdf: FPDF, content: ReceiptContent) -> None:
    pdf.set_text_color(*BLACK)
    pdf.set_font(FONT_FAMILY, "B", 18)
    pdf.cell(0, 9, content.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.cell(0, 7, content.operator_name, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    _rule(pdf)


def _draw_lines(pdf: FPDF, content: ReceiptContent) -> None:
    pdf.set_font(FONT_FAMILY, "", 9.5)
    with pdf.table(
        borders_layout=TableBordersLayout.NONE,
        col_widths=(11, 9),
        first_row_as_headings=False,
        text_align=(Align.L, Align.R),
        line_height=5,
        padding=(1.2, 0),
    ) as table:
        for line in content.lines:
            emphasis_size_pt = 11.5 if line.emphasis else None
            label_style = FontFace(emphasis="B", size_pt=11.5) if line.emphasis else FontFace(color=GREY)
            row = table.row()
            row.cell(line.label, style=label_style)
            row.cell(line.value, style=FontFace(emphasis="B", size_pt=emphasis_size_pt))
    _rule(pdf)


def _draw_verification_code(pdf: FPDF, content: ReceiptContent) -> None:
    pdf.ln(3)
    top_mm = pdf.get_y()
    pdf.set_font(FONT_FAMILY, "", 9)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 7, content.verification_label, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "B", 20)
    pdf.set_text_color(*BLACK)
    pdf.set_char_spacing(1.5)
    pdf.cell(0, 10, content.verification_code, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_char_spacing(0)
    pdf.set_line_width(0.5)
    pdf.rect(pdf.l_margin, top_mm, pdf.epw, pdf.get_y() - top_mm + 2, round_corners=True)
    pdf.set_line_width(0.2)
    pdf.ln(6)


def _draw_footer(pdf: FPDF, content: ReceiptContent) -> None:
    pdf.set_font(FONT_FAMILY, "", 8.5)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(0, 4.5, content.footer, align=Align.C)


def _rule(pdf: FPDF) -> None:
    """A dashed line across the page, like the tear-off line of a paper receipt."""
    pdf.set_draw_color(*GREY)
    pdf.set_dash_pattern(dash=1, gap=1)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.set_dash_pattern()
    pdf.ln(2)
