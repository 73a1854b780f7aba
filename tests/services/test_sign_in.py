"""The portal's sign-in by SMS code: codes, wrong tries and locks, rate limits, sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.factories import make_line, new_number
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.notifications import NotificationKind
from topup.domain.sign_in import CodeExpired, CodeInvalid, CodeWrong, SignInLocked, TooManyRequests
from topup.services import notifications, sign_in

ADDRESS = "203.0.113.7"


def ask(application: Application, number: str, address: str = ADDRESS) -> sign_in.CodeSent:
    return sign_in.request_code(application.uow(), application.sign_in, number=number, client_address=address)


def code_sent_to(application: Application, number: str) -> str:
    found = [
        n for n in notifications.inbox(application.uow(), number=number) if n.kind is NotificationKind.SIGN_IN_CODE
    ]
    return found[0].params["code"]  # the newest first


def verify(application: Application, number: str, code: str, address: str = ADDRESS) -> sign_in.NewSession:
    return sign_in.verify_code(application.uow(), application.sign_in, number=number, code=code, client_address=address)


def test_the_code_sent_by_sms_signs_in_once_and_the_session_lasts(application: Application, clock: FixedClock) -> None:
    number = make_line(application, language="en").msisdn.e164

    sent = ask(application, "050 " + number[6:9] + " " + number[9:11] + " " + number[11:])
    code = code_sent_to(application, number)
    signed_in = verify(application, number, code)

    assert (sent.msisdn, sent.expires_at) == (number, clock.now() + timedelta(minutes=5))
    assert len(code) == 6
    assert code.isdigit()
    [told] = notifications.inbox(application.uow(), number=number)
    assert notifications.NotificationSettings(number).channels_for(told.kind) == ["sms"]
    session = sign_in.session_of(application.uow(), application.sign_in, token=signed_in.token)
    assert session is not None
    assert session.msisdn == number
    with pytest.raises(CodeExpired):  # used: it cannot sign in twice
        verify(application, number, code)
    with application.engine.connect() as connection:
        stored = connection.execute(text("SELECT code_hash FROM sign_in_states")).scalar_one()
        tokens = connection.execute(text("SELECT id FROM web_sessions")).scalars().all()
    assert stored is None
    assert tokens == [session.id]
    assert signed_in.token not in tokens


def test_a_code_expires_after_five_minutes(application: Application, clock: FixedClock) -> None:
    number = make_line(application).msisdn.e164
    ask(application, number)
    code = code_sent_to(application, number)

    clock.advance(timedelta(minutes=5))

    with pytest.raises(CodeExpired):
        verify(application, number, code)


def test_five_wrong_codes_lock_the_number_for_fifteen_minutes(application: Application, clock: FixedClock) -> None:
    number = make_line(application).msisdn.e164
    ask(application, number)
    code = code_sent_to(application, number)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    tries_left = []
    for _ in range(4):
        with pytest.raises(CodeWrong) as refused:
            verify(application, number, wrong)
        tries_left.append(refused.value.details["tries_left"])
    with pytest.raises(SignInLocked):
        verify(application, number, wrong)

    assert tries_left == [4, 3, 2, 1]
    with pytest.raises(SignInLocked):
        verify(application, number, code)  # even the right code, now
    with pytest.raises(SignInLocked):
        ask(application, number)
    clock.advance(timedelta(minutes=15))
    ask(application, number)
    verify(application, number, code_sent_to(application, number))


def test_a_number_gets_at_most_three_codes_in_fifteen_minutes(application: Application, clock: FixedClock) -> None:
    number = make_line(application).msisdn.e164
    for _ in range(3):
        ask(application, number)

    with pytest.raises(TooManyRequests):
        ask(application, number)

    clock.advance(timedelta(minutes=15))
    ask(application, number)


def test_one_address_cannot_walk_through_many_numbers(application: Application) -> None:
    numbers = [make_line(application).msisdn.e164 for _ in range(11)]
    for number in numbers[:10]:
        ask(application, number)

    with pytest.raises(TooManyRequests):
        ask(application, numbers[10])

    ask(application, numbers[10], address="198.51.100.1")


def test_an_unknown_number_is_answered_alike_but_nothing_is_sent(application: Application) -> None:
    number = new_number()

    sent = ask(application, number)

    assert sent.notification_id is None
    assert notifications.inbox(application.uow(), number=number) == []


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", "١٢٣٤٥٦", ""])
def test_a_code_of_the_wrong_shape_is_refused_without_counting(application: Application, code: str) -> None:
    number = make_line(application).msisdn.e164
    ask(application, number)

    with pytest.raises(CodeInvalid):
        verify(application, number, code)

    verify(application, number, code_sent_to(application, number))


def test_a_session_ends_on_sign_out_and_after_a_week_unused(application: Application, clock: FixedClock) -> None:
    number = make_line(application).msisdn.e164
    ask(application, number)
    first = verify(application, number, code_sent_to(application, number))
    clock.advance(timedelta(minutes=16))
    ask(application, number)
    second = verify(application, number, code_sent_to(application, number))

    sign_in.sign_out(application.uow(), application.sign_in, token=first.token)
    assert sign_in.session_of(application.uow(), application.sign_in, token=first.token) is None
    clock.advance(timedelta(days=6))
    assert sign_in.session_of(application.uow(), application.sign_in, token=second.token) is not None  # touched
    clock.advance(timedelta(days=7))
    assert sign_in.session_of(application.uow(), application.sign_in, token=second.token) is None
    assert sign_in.session_of(application.uow(), application.sign_in, token="not-a-token") is None
