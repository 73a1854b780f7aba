"""Signing in with the number and the SMS code through the pages; the session cookie; signing out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from tests.factories import snapshot
from tests.web.browsing import Browser, field_error, text_of
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.lines import Line


def sessions_count(application: Application) -> int:
    with application.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM web_sessions")).scalar_one())


def ask_code(browser: Browser, number: str = "050 123 45 67") -> None:
    browser.get("/sign-in")
    sent = browser.post("/sign-in", {"number": number})
    assert sent.status_code == 303
    assert sent.headers["location"] == "/sign-in/code?number=994501234567&next=%2Faccount"
    browser.get(sent.headers["location"])


def test_the_code_by_sms_signs_in_with_a_secure_session_cookie(
    application: Application, browser: Browser, line: Line
) -> None:
    ask_code(browser)
    assert "If 050 123 45 67 is a line of ours, we have sent it a code by SMS." in text_of(browser.page)
    assert "Development mode: the SMS is in the development inbox" in text_of(browser.page)

    done = browser.post("/sign-in/code", {"number": "+994501234567", "code": browser.code_for(line.msisdn.e164)})

    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    cookie = next(value for name, value in done.headers.multi_items() if value.startswith("topup_session="))
    attributes = [part.strip() for part in cookie.split(";")[1:]]
    assert sorted(attributes) == sorted(["Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=2592000"])
    page = browser.get("/account")
    assert page.status_code == 200
    assert "Main balance AZN 10.00" in text_of(page.text)
    assert sessions_count(application) == 1


def test_a_wrong_code_says_how_many_tries_are_left_and_five_lock_the_number(
    application: Application, browser: Browser, line: Line
) -> None:
    ask_code(browser)
    right = browser.code_for(line.msisdn.e164)
    wrong = "000000" if right != "000000" else "111111"

    answers = [browser.post("/sign-in/code", {"number": "+994501234567", "code": wrong}) for _ in range(5)]

    assert [a.status_code for a in answers] == [422] * 5
    assert field_error(answers[0].text, "code") == "This code is not right. Tries left: 4."
    assert field_error(answers[3].text, "code") == "This code is not right. Tries left: 1."
    assert field_error(answers[4].text, "code").startswith(
        "Too many wrong codes. Signing in with this number is locked until "
    )
    locked = browser.post("/sign-in/code", {"number": "+994501234567", "code": right})
    assert field_error(locked.text, "code").startswith("Too many wrong codes.")
    assert sessions_count(application) == 0


def test_an_expired_code_and_a_malformed_one_are_refused(
    application: Application, browser: Browser, line: Line, clock: FixedClock
) -> None:
    ask_code(browser)
    code = browser.code_for(line.msisdn.e164)
    malformed = browser.post("/sign-in/code", {"number": "+994501234567", "code": "12ab56"})
    clock.advance(timedelta(minutes=5, seconds=1))
    before = snapshot(application)

    expired = browser.post("/sign-in/code", {"number": "+994501234567", "code": code})

    assert field_error(malformed.text, "code") == "The code has 6 digits."
    assert field_error(expired.text, "code") == "This code has expired or was already used. Ask for a new one."
    assert sessions_count(application) == 0
    assert snapshot(application) == before


def test_an_unknown_number_is_answered_like_a_known_one(application: Application, browser: Browser) -> None:
    browser.get("/sign-in")

    sent = browser.post("/sign-in", {"number": "070 999 88 77"})

    assert sent.status_code == 303
    assert sent.headers["location"] == "/sign-in/code?number=994709998877&next=%2Faccount"


def test_a_malformed_number_is_refused_and_the_next_address_stays_ours(browser: Browser) -> None:
    browser.get("/sign-in?next=https://evil.example/")

    refused = browser.post("/sign-in", {"number": "hello", "next": "https://evil.example/"})

    assert refused.status_code == 422
    assert field_error(refused.text, "number") == "This is not a phone number. Use digits, such as 050 123 45 67."
    assert 'name="next" value="/account"' in refused.text


def test_signing_out_ends_the_session(application: Application, signed_in: Browser) -> None:
    out = signed_in.post("/sign-out", {})

    assert out.status_code == 303
    assert sessions_count(application) == 0
    assert signed_in.get("/account").status_code == 303
