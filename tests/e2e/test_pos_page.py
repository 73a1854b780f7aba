"""The agent POS page: sign in, sell with the keyboard's flow (number, amount, confirm), the 58 mm receipt, the
day's report; CSRF, double submissions and another agent's receipts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_line, open_shop, snapshot
from topup.bootstrap import Application
from topup.domain.agents import AgentRole
from topup.entrypoints.api.app import create_app
from topup.services import agents, lines

PASSWORD = "correct horse battery"


def shop(application: Application, licence: str, username: str, *, role: AgentRole = AgentRole.CASHIER) -> str:
    return open_shop(
        application,
        name=f"Market {licence}",
        licence=licence,
        address="Füzuli küç. 5, Gəncə",
        username=username,
        password=PASSWORD,
        float_qepik=5000,
        role=role,
    )


@pytest.fixture
def pos(application: Application) -> Iterator[TestClient]:
    application.settings.cookie_secure = False  # the test client speaks plain HTTP to "testserver"
    with TestClient(create_app(application)) as client:
        yield client


def csrf(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(pos: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = pos.get("/pos")
    return pos.post("/pos/sign-in", data={"csrf": csrf(page), "username": username, "password": password})


def confirm(pos: TestClient, number: str, amount: str = "", bundle: str = "") -> Any:
    page = pos.get("/pos")
    return pos.post("/pos/confirm", data={"csrf": csrf(page), "number": number, "amount": amount, "bundle": bundle})


def fields(page: Any) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))


def test_a_cashier_signs_in_and_sells_a_top_up_with_a_receipt_for_a_58mm_printer(
    application: Application, pos: TestClient
) -> None:
    shop(application, "SH-0101", "aygun")
    number = make_line(application).msisdn

    assert "Daxil ol" in pos.get("/pos").text
    assert sign_in(pos, "aygun").status_code == 200
    checked = confirm(pos, number.national, amount="10")
    sold = pos.post("/pos/sell", data=fields(checked), follow_redirects=False)
    receipt = pos.get(sold.headers["location"])

    assert checked.status_code == 200
    assert number.national in checked.text
    assert "10.00 AZN" in checked.text
    assert sold.status_code == 303
    assert receipt.status_code == 200
    assert "width: 58mm" in receipt.text
    assert re.search(r'class="code"[^>]*>[0-9A-Z]{5}-[0-9A-Z]{5}<', receipt.text)
    assert number.masked in receipt.text
    assert "Market SH-0101" in receipt.text
    assert "Balans (əməliyyatdan sonra)" not in receipt.text  # the customer's balance is not the shop's business
    assert lines.balance(application.uow(), application.clock, number=number.e164).main_qepik == 1000


def test_a_confirmation_sent_twice_sells_once(application: Application, pos: TestClient) -> None:
    agent_id = shop(application, "SH-0102", "rauf")
    number = make_line(application).msisdn
    sign_in(pos, "rauf")
    checked = confirm(pos, number.national, amount="5.00")

    first = pos.post("/pos/sell", data=fields(checked), follow_redirects=False)
    second = pos.post("/pos/sell", data=fields(checked), follow_redirects=False)

    assert first.headers["location"] == second.headers["location"]
    assert lines.balance(application.uow(), application.clock, number=number.e164).main_qepik == 500
    assert agents.position(application.uow(), agent_id=agent_id).position.float_qepik == 4500


@pytest.mark.parametrize(
    ("amount", "bundle", "message"),
    [
        ("0.50", "", "Məbləğ operatorun hədlərindən kənardır (1.00–500.00 AZN)."),
        ("abc", "", "Məbləği düzgün yazın, məsələn 5.00."),
        ("60.00", "", "Balans (float və kredit) bu satış üçün kifayət etmir."),
        ("", "nar-superday-1d", "Bu paket nömrənin operatoruna aid deyil."),
        ("", "", "Məbləğ və ya paket seçin."),
    ],
)
def test_a_sale_that_cannot_be_made_says_why_next_to_the_form_and_changes_nothing(
    application: Application, pos: TestClient, amount: str, bundle: str, message: str
) -> None:
    shop(application, "SH-0103", "leyla")
    number = make_line(application).msisdn
    sign_in(pos, "leyla")
    before = snapshot(application)

    refused = confirm(pos, number.national, amount=amount, bundle=bundle)

    assert refused.status_code == 422
    assert message in refused.text
    assert snapshot(application) == before


def test_a_form_without_its_csrf_token_is_refused(application: Application, pos: TestClient) -> None:
    shop(application, "SH-0104", "nigar")
    number = make_line(application).msisdn
    sign_in(pos, "nigar")
    checked = confirm(pos, number.national, amount="5.00")
    before = snapshot(application)

    forged = pos.post("/pos/sell", data={**fields(checked), "csrf": "forged"}, follow_redirects=False)

    assert forged.status_code == 422
    assert "Səhifənin vaxtı keçib" in forged.text
    assert snapshot(application) == before


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(application: Application, pos: TestClient) -> None:
    shop(application, "SH-0105", "kamran")

    wrong = sign_in(pos, "kamran", "not the password")
    unknown = sign_in(pos, "nobody", PASSWORD)

    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert "İstifadəçi adı və ya şifrə yanlışdır." in wrong.text
    assert "İstifadəçi adı və ya şifrə yanlışdır." in unknown.text
    assert "Satış" not in pos.get("/pos").text.split("<main>")[1]


def test_another_agents_receipt_does_not_exist_here(application: Application, pos: TestClient) -> None:
    shop(application, "SH-0106", "elvin")
    other = shop(application, "SH-0107", "tural")
    number = make_line(application).msisdn
    sale = agents.sell_top_up(
        application.uow(), application.clock, application.codes, agent_id=other, number=number.e164, amount_qepik=300
    )
    sign_in(pos, "elvin")

    response = pos.get(f"/pos/receipts/{sale.record.id}")

    assert response.status_code == 404
    assert number.masked not in response.text


def test_the_days_report_and_its_downloads(application: Application, pos: TestClient) -> None:
    shop(application, "SH-0108", "sabina", role=AgentRole.MANAGER)
    number = make_line(application).msisdn
    sign_in(pos, "sabina")
    pos.post("/pos/sell", data=fields(confirm(pos, number.national, amount="7.00")))

    page = pos.get("/pos/report")
    csv = pos.get("/pos/report.csv")
    pdf = pos.get("/pos/report.pdf?lang=en")
    statement = pos.get("/pos/statement.csv")

    assert "7.00 AZN" in page.text
    assert "sales_amount,7.00" in csv.text
    assert (pdf.headers["content-type"], pdf.content[:5]) == ("application/pdf", b"%PDF-")
    assert statement.text.splitlines()[0].startswith("time,kind,amount,float_after")


def test_a_cashier_gets_no_statement_and_signing_out_ends_the_session(
    application: Application, pos: TestClient
) -> None:
    shop(application, "SH-0109", "farid")
    sign_in(pos, "farid")

    refused = pos.get("/pos/statement.csv", follow_redirects=False)
    page = pos.get("/pos")
    pos.post("/pos/sign-out", data={"csrf": csrf(page)})

    assert refused.status_code == 303
    assert "Daxil ol" in pos.get("/pos").text
