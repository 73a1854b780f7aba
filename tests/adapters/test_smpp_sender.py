"""The SMPP SMS sender (smpplib) against the product's fake SMSC on loopback."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from topup.adapters.notifications.fake_smsc import FakeSmsc, ReceivedSms, gsm_decode
from topup.adapters.notifications.smpp import SmppSmsSender, encode_text
from topup.services.channels import ChannelUnavailable

SYSTEM_ID = "topup"
PASSWORD = "s3cret"
MSISDN = "+994501234567"
TIMEOUT_SECONDS = 5.0
GSM, UCS2 = 0x00, 0x08


@pytest.fixture
def smsc() -> Iterator[FakeSmsc]:
    server = FakeSmsc(system_id=SYSTEM_ID, password=PASSWORD).start()
    yield server
    if server.running:
        server.stop()


@pytest.fixture
def sender(smsc: FakeSmsc) -> Iterator[SmppSmsSender]:
    client = SmppSmsSender(
        "127.0.0.1",
        smsc.port,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        source_addr="Topup",
        timeout_seconds=TIMEOUT_SECONDS,
    )
    yield client
    client.close()


def test_ascii_text_goes_in_one_gsm_message_from_an_alphanumeric_sender(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    text = "Your balance was topped up by 5.00 AZN. Balance: 12.40 AZN [ref #A1-77] €"

    message_id = sender.send_sms(to_msisdn=MSISDN, text=text)

    assert smsc.messages() == [
        ReceivedSms(
            source_addr="Topup",
            source_addr_ton=5,
            source_addr_npi=0,
            destination_addr="994501234567",
            dest_addr_ton=1,
            dest_addr_npi=1,
            text=text,
            data_coding=GSM,
            message_ids=(message_id,),
        )
    ]


def test_azerbaijani_text_goes_as_ucs2(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    text = "Balansınız 5,00 ₼ artırıldı. Təşəkkür edirik! Ğ ş ı ə"

    message_id = sender.send_sms(to_msisdn=MSISDN, text=text)

    (received,) = smsc.messages()
    assert (received.text, received.data_coding, received.message_ids) == (text, UCS2, (message_id,))


def test_a_long_chinese_text_goes_in_three_parts_joined_again_exactly(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    text = "尊敬的用户，您的号码已成功充值五马纳特，当前余额为十二点四马纳特。感谢您使用我们的服务，祝您生活愉快！" * 3
    assert 134 < len(text) <= 201  # 67 UCS2 characters a part: three parts

    message_ids = sender.send_sms(to_msisdn=MSISDN, text=text)

    (received,) = smsc.messages()
    assert received.text == text
    assert received.data_coding == UCS2
    assert len(received.message_ids) == 3
    assert message_ids == ",".join(received.message_ids)


def test_an_emoji_on_a_part_boundary_is_not_cut_in_two(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    text = "ə" * 66 + "😀" + "ş" * 10  # the emoji's two UTF-16 units would be units 67 and 68
    sender.send_sms(to_msisdn=MSISDN, text=text)

    (received,) = smsc.messages()
    assert received.text == text  # the fake decodes each part alone: half a pair would come out as U+FFFD
    assert len(received.message_ids) == 2


def test_a_gsm_escape_on_a_part_boundary_is_not_cut_in_two(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    text = "a" * 152 + "€" + "b" * 10  # € takes two septets: 153 and 154
    sender.send_sms(to_msisdn=MSISDN, text=text)

    (received,) = smsc.messages()
    assert (received.text, received.data_coding, len(received.message_ids)) == (text, GSM, 2)


@pytest.mark.parametrize(
    ("text", "data_coding", "parts_count"),
    [
        pytest.param("a" * 160, GSM, 1, id="gsm-160-one"),
        pytest.param("a" * 161, GSM, 2, id="gsm-161-two"),
        pytest.param("a" * 306, GSM, 2, id="gsm-306-two"),
        pytest.param("a" * 307, GSM, 3, id="gsm-307-three"),
        pytest.param("ə" * 70, UCS2, 1, id="ucs2-70-one"),
        pytest.param("ə" * 71, UCS2, 2, id="ucs2-71-two"),
        pytest.param("`", UCS2, 1, id="backtick-is-not-gsm"),
    ],
)
def test_part_counts_at_the_limits(text: str, data_coding: int, parts_count: int) -> None:
    parts = encode_text(text, reference=7)

    assert (parts.data_coding, len(parts.short_messages)) == (data_coding, parts_count)
    if parts_count > 1:
        headers = [part[:6] for part in parts.short_messages]
        assert headers == [bytes((5, 0, 3, 7, parts_count, number)) for number in range(1, parts_count + 1)]
        assert parts.esm_class == 0x40


def test_gsm_parts_decode_to_the_text() -> None:
    text = "{Salam} ^ ~ | \\ € " * 20
    parts = encode_text(text, reference=1)

    assert "".join(gsm_decode(part[6:]) for part in parts.short_messages) == text


def test_the_session_is_bound_once_for_many_sends(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    sender.send_sms(to_msisdn=MSISDN, text="one")
    sender.send_sms(to_msisdn=MSISDN, text="two")

    assert [message.text for message in smsc.messages()] == ["one", "two"]
    assert smsc.binds == 1


@pytest.mark.parametrize(
    ("to_msisdn", "retryable", "error"),
    [
        pytest.param("+994500000058", True, "SMSC refused the message: 0x58 ", id="throttled"),
        pytest.param("+994500000011", False, "SMSC refused the message: 0x0B ", id="invalid-destination"),
        pytest.param("+994500000099", True, "SMSC link failed during a send: ", id="connection-dropped"),
    ],
)
def test_magic_destinations_fail_as_they_should(
    smsc: FakeSmsc, sender: SmppSmsSender, to_msisdn: str, retryable: bool, error: str
) -> None:
    with pytest.raises(ChannelUnavailable) as failed:
        sender.send_sms(to_msisdn=to_msisdn, text="Salam")

    assert failed.value.retryable is retryable
    assert str(failed.value).startswith(error)
    assert smsc.messages() == []
    sender.send_sms(to_msisdn=MSISDN, text="still works")  # on the same link, or on a new one after the drop
    assert [message.text for message in smsc.messages()] == ["still works"]


def test_a_number_not_in_e164_is_final_and_nothing_is_sent(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    with pytest.raises(ChannelUnavailable) as refused:
        sender.send_sms(to_msisdn="0501234567", text="Salam")

    assert refused.value.retryable is False
    assert (smsc.binds, smsc.messages()) == (0, [])


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        pytest.param(SYSTEM_ID, "wrong", "(14)", id="wrong-password"),
        pytest.param("stranger", PASSWORD, "(15)", id="wrong-system-id"),
    ],
)
def test_a_refused_bind_is_final(smsc: FakeSmsc, system_id: str, password: str, status: str) -> None:
    sender = SmppSmsSender("127.0.0.1", smsc.port, system_id=system_id, password=password, source_addr="Topup")

    with pytest.raises(ChannelUnavailable) as refused:
        sender.send_sms(to_msisdn=MSISDN, text="Salam")

    assert refused.value.retryable is False
    assert str(refused.value).startswith(f"SMSC refused the bind: {status} ")
    assert password not in str(refused.value)
    assert (smsc.binds, smsc.messages()) == (0, [])
    sender.close()


def test_the_sender_binds_again_after_the_smsc_restarted(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    sender.send_sms(to_msisdn=MSISDN, text="before")
    smsc.stop()
    smsc.start()

    sender.send_sms(to_msisdn=MSISDN, text="after")

    assert [message.text for message in smsc.messages()] == ["before", "after"]
    assert smsc.binds == 2


def test_an_unreachable_smsc_is_retryable(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    smsc.stop()

    with pytest.raises(ChannelUnavailable) as unreachable:
        sender.send_sms(to_msisdn=MSISDN, text="Salam")

    assert unreachable.value.retryable is True
    assert str(unreachable.value).startswith("SMSC unreachable: ")


def test_an_smsc_that_never_answers_the_bind_times_out_retryable() -> None:
    with socket.socket() as silent:  # accepts connections in the kernel's backlog, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sender = SmppSmsSender(
            "127.0.0.1",
            silent.getsockname()[1],
            system_id=SYSTEM_ID,
            password=PASSWORD,
            source_addr="Topup",
            timeout_seconds=0.2,
        )

        with pytest.raises(ChannelUnavailable) as timed_out:
            sender.send_sms(to_msisdn=MSISDN, text="Salam")

    assert timed_out.value.retryable is True
    sender.close()


def test_close_unbinds_and_a_later_send_binds_again(smsc: FakeSmsc, sender: SmppSmsSender) -> None:
    sender.send_sms(to_msisdn=MSISDN, text="one")

    sender.close()
    assert (smsc.binds, smsc.unbinds) == (1, 1)

    sender.send_sms(to_msisdn=MSISDN, text="two")
    assert smsc.binds == 2


def test_a_numeric_sender_goes_as_an_international_number(smsc: FakeSmsc) -> None:
    sender = SmppSmsSender("127.0.0.1", smsc.port, system_id=SYSTEM_ID, password=PASSWORD, source_addr="+994125550000")
    try:
        sender.send_sms(to_msisdn=MSISDN, text="Salam")
    finally:
        sender.close()

    (received,) = smsc.messages()
    assert (received.source_addr, received.source_addr_ton, received.source_addr_npi) == ("994125550000", 1, 1)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("source_addr", "Topup Azerbaijan"),  # 16 characters: an alphanumeric sender has 11 at most
        ("source_addr", "+99-412"),
        ("password", "longer than eight"),  # smpplib would cut it silently
        ("system_id", ""),
    ],
)
def test_a_bad_configuration_is_refused_at_construction(option: str, value: str) -> None:
    options = {"system_id": SYSTEM_ID, "password": PASSWORD, "source_addr": "Topup", option: value}

    with pytest.raises(ValueError, match=option):
        SmppSmsSender("127.0.0.1", 2775, **options)


def _exchange(port: int, *pdus: bytes) -> list[tuple[int, int, int]]:
    """Send raw PDUs one by one; (command_id, command_status, sequence_number) of each answer."""
    answers: list[tuple[int, int, int]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_SECONDS) as connection:
        stream = connection.makefile("rb")
        for pdu in pdus:
            connection.sendall(pdu)
            length, command_id, status, sequence = struct.unpack(">LLLL", stream.read(16))
            stream.read(length - 16)
            answers.append((command_id, status, sequence))
        stream.close()
    return answers


def test_the_fake_smsc_answers_enquire_link_nacks_unknown_commands_and_wants_a_bind(smsc: FakeSmsc) -> None:
    enquire_link = struct.pack(">LLLL", 16, 0x15, 0, 1)
    data_sm = struct.pack(">LLLL", 16, 0x103, 0, 2)  # a command the fake does not speak
    submit_sm = struct.pack(">LLLL", 16, 0x04, 0, 3)

    answers = _exchange(smsc.port, enquire_link, data_sm, submit_sm)

    assert answers == [(0x80000015, 0x00, 1), (0x80000000, 0x03, 2), (0x80000004, 0x04, 3)]
    assert smsc.messages() == []
