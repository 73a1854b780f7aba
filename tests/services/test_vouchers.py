"""Scratch-card vouchers: generation, states and their audit, redemption exactly once, wrong-PIN locks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.factories import cards_on_sale, make_line, snapshot
from topup.adapters.clock import FixedClock
from topup.adapters.receipt_codes import HmacDigests
from topup.adapters.voucher_export import ExportUnreadable, read_export, write_export
from topup.bootstrap import Application
from topup.domain.errors import AmountOutOfRange, InvalidInput
from topup.domain.sign_in import TooManyRequests
from topup.domain.vouchers import (
    VoucherExpired,
    VoucherInvalid,
    VoucherLocked,
    VoucherState,
    VoucherUsed,
    VoucherWrongOperator,
)
from topup.services import lines, vouchers


@pytest.fixture
def cards(application: Application) -> vouchers.Vouchers:
    return vouchers.Vouchers(application.clock, application.codes, HmacDigests(application.settings.secret_key))


def batch(application: Application, cards: vouchers.Vouchers, *, count: int = 3, operator: str = "azercell"):  # type: ignore[no-untyped-def]
    made, printed = vouchers.generate(
        application.uow(), cards, operator=operator, nominal_qepik=500, count=count, actor="staff"
    )
    return made, printed


def on_sale(application: Application, cards: vouchers.Vouchers, **kwargs: object) -> list[vouchers.PrintedCard]:
    return cards_on_sale(application, cards, **kwargs)  # type: ignore[arg-type]


def redeem(application: Application, cards: vouchers.Vouchers, pin: str, number: str, client: str = "api:test"):  # type: ignore[no-untyped-def]
    return vouchers.redeem(application.uow(), cards, pin=pin, number=number, client=client)


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def test_a_batch_has_unique_serials_and_pins_stored_only_as_keyed_hashes(
    application: Application, cards: vouchers.Vouchers
) -> None:
    made, printed = batch(application, cards, count=50)

    assert (made.count, made.nominal_qepik, made.operator) == (50, 500, "azercell")
    assert len({c.serial for c in printed}) == 50
    assert len({c.pin for c in printed}) == 50
    assert all(len(c.serial) == 10 and len(c.pin) == 13 and c.pin.isdigit() for c in printed)
    with application.engine.connect() as connection:
        stored = connection.execute(text("SELECT serial, pin_hash, state FROM vouchers")).all()
    assert {state for _, _, state in stored} == {"generated"}
    pins = {c.pin for c in printed}
    assert not any(pin_hash in pins or any(pin in pin_hash for pin in pins) for _, pin_hash, _ in stored)


def test_a_card_redeems_once_for_its_nominal_and_every_change_is_audited(
    application: Application, cards: vouchers.Vouchers
) -> None:
    [card, *_] = on_sale(application, cards)
    number = make_line(application).msisdn.e164

    record = redeem(application, cards, f"{card.pin[:4]} {card.pin[4:8]} {card.pin[8:]}", number)

    assert (record.amount_qepik, record.channel) == (500, "voucher")
    assert main_balance(application, number) == 500
    with pytest.raises(VoucherUsed):
        redeem(application, cards, card.pin, number)
    assert main_balance(application, number) == 500
    voucher, events = vouchers.status(application.uow(), serial=card.serial)
    assert (voucher.state, voucher.redeemed_msisdn, voucher.redeemed_transaction_id) == (
        VoucherState.REDEEMED,
        number,
        record.id,
    )
    assert [(e.source.value, e.target.value) for e in events] == [
        ("generated", "generated"),
        ("generated", "distributed"),
        ("distributed", "active"),
        ("active", "redeemed"),
    ]


def test_a_card_not_yet_on_sale_does_not_redeem(application: Application, cards: vouchers.Vouchers) -> None:
    _, [card, *_] = batch(application, cards)
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    with pytest.raises(VoucherInvalid):
        redeem(application, cards, card.pin, number)

    assert snapshot(application) == before


def test_three_wrong_pins_lock_card_top_ups_for_the_number_for_a_day(
    application: Application, cards: vouchers.Vouchers, clock: FixedClock
) -> None:
    [card, *_] = on_sale(application, cards)
    number = make_line(application).msisdn.e164
    wrong = "1" * 13

    for _ in range(3):
        with pytest.raises(VoucherInvalid):
            redeem(application, cards, wrong, number)
    with pytest.raises(VoucherLocked):
        redeem(application, cards, card.pin, number)  # even the right one now
    other = make_line(application).msisdn.e164
    redeem(application, cards, card.pin, other)  # the lock is the number's, not the card's

    clock.advance(timedelta(hours=24))
    [second] = on_sale(application, cards, count=1)
    redeem(application, cards, second.pin, number)
    assert main_balance(application, number) == 500


def test_a_card_of_another_operator_is_refused_and_not_counted_as_a_guess(
    application: Application, cards: vouchers.Vouchers
) -> None:
    [card, *_] = on_sale(application, cards, operator="nar")
    number = make_line(application, prefix="50").msisdn.e164

    for _ in range(3):
        with pytest.raises(VoucherWrongOperator):
            redeem(application, cards, card.pin, number)

    nar_line = make_line(application, prefix="70").msisdn.e164
    redeem(application, cards, card.pin, nar_line)


def test_an_expired_card_does_not_redeem_and_becomes_expired(
    application: Application, cards: vouchers.Vouchers, clock: FixedClock
) -> None:
    [card, *_] = on_sale(application, cards)
    number = make_line(application).msisdn.e164
    clock.advance(timedelta(days=731))

    with pytest.raises(VoucherExpired):
        redeem(application, cards, card.pin, number)

    assert vouchers.status(application.uow(), serial=card.serial)[0].state is VoucherState.EXPIRED
    assert vouchers.expire_due(application.uow(), application.clock) == 2  # the batch's other two


@pytest.mark.parametrize("pin", ["123", "12345678901234", "abcdefghijklm", "", "١٢٣٤٥٦٧٨٩٠١٢٣"])
def test_a_pin_of_the_wrong_shape_is_refused_and_counts(
    application: Application, cards: vouchers.Vouchers, pin: str
) -> None:
    number = make_line(application).msisdn.e164

    with pytest.raises(InvalidInput):
        redeem(application, cards, pin, number)

    with application.engine.connect() as connection:
        assert connection.execute(text("SELECT failures FROM lockouts")).scalar_one() == 1


def test_one_client_is_rate_limited(application: Application, cards: vouchers.Vouchers) -> None:
    numbers = [make_line(application).msisdn.e164 for _ in range(21)]
    for number in numbers[:20]:  # 60 tries, 3 per number, spread over numbers to stay under the lock
        for _ in range(3):
            with pytest.raises((VoucherInvalid, VoucherLocked)):
                redeem(application, cards, "1" * 13, number, client="api:guesser")

    with pytest.raises(TooManyRequests):
        redeem(application, cards, "1" * 13, numbers[20], client="api:guesser")


def test_void_cards_do_not_redeem_and_redeemed_ones_cannot_be_voided(
    application: Application, cards: vouchers.Vouchers
) -> None:
    first, second, third = on_sale(application, cards)
    number = make_line(application).msisdn.e164
    redeem(application, cards, first.pin, number)

    voided = vouchers.void(
        application.uow(), application.clock, serials=[first.serial, second.serial], actor="staff", reason="stolen"
    )

    assert voided == [second.serial]
    with pytest.raises(VoucherInvalid):
        redeem(application, cards, second.pin, number)
    redeem(application, cards, third.pin, number)


def test_a_nominal_the_operator_does_not_accept_is_refused(application: Application, cards: vouchers.Vouchers) -> None:
    with pytest.raises(AmountOutOfRange):
        vouchers.generate(application.uow(), cards, operator="azercell", nominal_qepik=50, count=1, actor="staff")


def test_the_printer_export_opens_only_with_its_passphrase(
    application: Application, cards: vouchers.Vouchers, tmp_path: Path
) -> None:
    _, printed = batch(application, cards, count=5)
    export = tmp_path / "batch.topupvx"

    write_export(export, printed, "correct horse battery")

    assert read_export(export, "correct horse battery") == printed
    assert export.stat().st_mode & 0o777 == 0o600
    assert printed[0].pin.encode() not in export.read_bytes()
    with pytest.raises(ExportUnreadable):
        read_export(export, "wrong passphrase here")
    tampered = bytearray(export.read_bytes())
    tampered[-1] ^= 1
    export.write_bytes(bytes(tampered))
    with pytest.raises(ExportUnreadable):
        read_export(export, "correct horse battery")
