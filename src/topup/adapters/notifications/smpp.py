"""SMS over SMPP 3.4: `SmsSender` spoken to an SMSC with smpplib, bound as a transmitter (send only).

The session is bound once and kept. Before each send a look at the socket (smpplib's `poll`) answers the
SMSC's enquire_link and notices a link the SMSC closed; a link found closed, or broken during a send, is
connected and bound again on the next send. `close()` unbinds. A lock keeps one send at a time on the link:
smpplib's client is not safe to share between threads.

Text: GSM 03.38 default alphabet when every character is in it (160 characters in one message), otherwise
UCS2 (data_coding 0x08, UTF-16-BE, 70 code units): Azerbaijani ə ğ ı ş and Chinese go as UCS2. A longer text
goes as parts of 153 septets or 134 octets, each starting with a concatenation UDH (`05 00 03 ref total seq`).
Parts are cut between characters, so a surrogate pair (an emoji) or a GSM escape pair (€, [, ]) never
straddles two parts; smpplib's `make_parts` cuts at a byte count, which breaks both, so the cutting is here.

Errors say what a retry can do (`ChannelUnavailable.retryable`):
- retryable: the SMSC cannot be reached, the link dropped, an answer did not come within `timeout_seconds`,
  or it answered throttled (0x58), queue full (0x14) or system error (0x08). A timeout or a drop after a
  submit leaves it unknown whether the SMSC took the message; a retry may deliver it twice, which for a
  notification is better than never. A long text that fails on a later part is sent whole again.
- final: the number is not E.164, the SMSC refused the destination (0x0B) or the message (any other status),
  or refused the bind (0x0D, 0x0E wrong password, 0x0F unknown system id): that is configuration.
Delivery receipts are not asked for: a transmitter session could not receive them. smpplib logs every PDU in
hex at DEBUG, the bind's password included, so its logger here never goes below INFO.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smpplib import consts, gsm
from smpplib.client import Client
from smpplib.exceptions import ConnectionError as SmppConnectionError
from smpplib.exceptions import PDUError, UnknownCommandError

from topup.services.channels import ChannelUnavailable

PARTS_MAX = 255  # the UDH counts parts in one octet
TEXT_LENGTH_MAX = PARTS_MAX * consts.SEVENBIT_PART_SIZE
RETRYABLE_STATUSES = frozenset({consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RSYSERR})

_WIRE_LOGGER_NAME = "topup.notifications.smpp.wire"
logging.getLogger(_WIRE_LOGGER_NAME).setLevel(logging.INFO)

# smpplib's table fills its unused slots with "`" (so "`" itself would go out as "§") and holds the escape
# character: neither is a character a text can carry in the default alphabet.
_GSM_CHARACTERS = frozenset(gsm.GSM_CHARACTER_TABLE) - {"`", "\x1b"}
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")  # GSM 03.40 carries at most 11 characters
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{1,15}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
# Longest values the bind PDU holds (its C-string fields, less the terminator); smpplib silently cuts longer ones.
_SYSTEM_ID_LENGTH_MAX = 15
_PASSWORD_LENGTH_MAX = 8
_SYSTEM_TYPE_LENGTH_MAX = 12


@dataclass(frozen=True)
class SmsParts:
    """What goes in the submit_sm PDUs of one text: `short_message` of each, and the fields shared by all."""

    short_messages: list[bytes]
    data_coding: int
    esm_class: int


def _ucs2_encode(text: str) -> bytes:
    return text.encode("utf-16-be")


def encode_text(text: str, *, reference: int) -> SmsParts:
    """Encode `text` for SMPP; `reference` (0-255) ties the parts of a long text together."""
    encode: Callable[[str], bytes]
    if _GSM_CHARACTERS.issuperset(text):
        encode, single_octets_max, part_octets_max = gsm.gsm_encode, consts.SEVENBIT_LENGTH, consts.SEVENBIT_PART_SIZE
        data_coding = consts.SMPP_ENCODING_DEFAULT
    else:
        encode, single_octets_max, part_octets_max = _ucs2_encode, consts.UCS2_LENGTH, consts.UCS2_PART_SIZE
        data_coding = consts.SMPP_ENCODING_ISO10646
    whole = encode(text)
    if len(whole) <= single_octets_max:
        return SmsParts([whole], data_coding, consts.SMPP_MSGTYPE_DEFAULT)
    chunks = _chunks(text, encode, part_octets_max)
    if len(chunks) > PARTS_MAX:
        raise ChannelUnavailable(f"text needs {len(chunks)} parts, more than {PARTS_MAX}", retryable=False)
    header = bytes((0x05, 0x00, 0x03, reference, len(chunks)))
    short_messages = [header + bytes((sequence,)) + chunk for sequence, chunk in enumerate(chunks, start=1)]
    return SmsParts(short_messages, data_coding, consts.SMPP_GSMFEAT_UDHI)


def _chunks(text: str, encode: Callable[[str], bytes], chunk_octets_max: int) -> list[bytes]:
    """Cut between characters (a character is one code point: never half a surrogate pair or escape pair)."""
    chunks: list[bytes] = []
    current = bytearray()
    for character in text:
        encoded = encode(character)
        if len(current) + len(encoded) > chunk_octets_max:
            chunks.append(bytes(current))
            current.clear()
        current += encoded
    chunks.append(bytes(current))
    return chunks


def _source_address(source_addr: str) -> tuple[str, int, int]:
    """(address, TON, NPI): letters make an alphanumeric sender, digits an international number."""
    if re.search(r"[A-Za-z]", source_addr):
        if not _ALPHANUMERIC_SENDER.fullmatch(source_addr):
            raise ValueError(f"an alphanumeric source_addr has at most 11 letters, digits or spaces: {source_addr!r}")
        return source_addr, consts.SMPP_TON_ALNUM, consts.SMPP_NPI_UNK
    if not _NUMERIC_SENDER.fullmatch(source_addr):
        raise ValueError(f"source_addr is neither alphanumeric nor an international number: {source_addr!r}")
    return source_addr.removeprefix("+"), consts.SMPP_TON_INTL, consts.SMPP_NPI_ISDN


def _check_credential(name: str, value: str, length_max: int) -> None:
    if len(value) > length_max or not _PRINTABLE_ASCII.fullmatch(value):
        raise ValueError(f"{name} must be at most {length_max} printable ASCII characters")


class SmppSmsSender:
    """Each network operation, and all the answers to one send together, wait at most `timeout_seconds`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        system_id: str,
        password: str,
        source_addr: str,
        system_type: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        if not system_id:
            raise ValueError("system_id is required")
        _check_credential("system_id", system_id, _SYSTEM_ID_LENGTH_MAX)
        _check_credential("password", password, _PASSWORD_LENGTH_MAX)
        _check_credential("system_type", system_type, _SYSTEM_TYPE_LENGTH_MAX)
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._host = host
        self._port = port
        self._system_id = system_id
        self._password = password
        self._system_type = system_type
        self._source_addr, self._source_addr_ton, self._source_addr_npi = _source_address(source_addr)
        self._timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._client: Any = None  # a bound smpplib Client, or None

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"SmppSmsSender({self._host!r}, {self._port}, system_id={self._system_id!r})"

    def send_sms(self, *, to_msisdn: str, text: str) -> str:
        if not _E164.fullmatch(to_msisdn):
            raise ChannelUnavailable(f"not an E.164 number: {to_msisdn!r}", retryable=False)
        if len(text) > TEXT_LENGTH_MAX:
            raise ChannelUnavailable(f"text longer than {TEXT_LENGTH_MAX} characters", retryable=False)
        parts = encode_text(text, reference=secrets.randbelow(256))
        with self._lock:
            client = self._bound_client()
            try:
                message_ids = self._submit_all(client, to_msisdn.removeprefix("+"), parts)
            except (SmppConnectionError, PDUError, UnknownCommandError, OSError) as error:
                # The link is in an unknown state (half a PDU read, an answer still to come): start afresh.
                self._drop()
                raise ChannelUnavailable(f"SMSC link failed during a send: {error!r}", retryable=True) from None
        return ",".join(message_ids)

    def close(self) -> None:
        """Unbind and disconnect; a later send binds again."""
        with self._lock:
            client, self._client = self._client, None
            if client is None:
                return
            try:
                client.unbind()
            except (SmppConnectionError, PDUError, OSError):
                pass  # the SMSC has gone already: there is nothing left to unbind
            finally:
                client.disconnect()

    def _bound_client(self) -> Any:
        if self._client is not None and not _alive(self._client):
            self._drop()
        if self._client is None:
            self._client = self._bind()
        return self._client

    def _bind(self) -> Any:
        client = Client(
            self._host,
            self._port,
            timeout=self._timeout_seconds,
            logger_name=_WIRE_LOGGER_NAME,
            allow_unknown_opt_params=True,  # SMSCs add vendor TLVs; the spec says to ignore them
        )
        try:
            client.connect()
            client.bind_transmitter(system_id=self._system_id, password=self._password, system_type=self._system_type)
        except PDUError as error:
            client.disconnect()
            status = error.args[1] if len(error.args) > 1 else None
            # Throttled or busy at bind time passes; a refused system id or password is configuration.
            message = f"SMSC refused the bind: {error.args[0]}"
            raise ChannelUnavailable(message, retryable=status in RETRYABLE_STATUSES) from None
        except (SmppConnectionError, OSError) as error:
            client.disconnect()
            raise ChannelUnavailable(f"SMSC unreachable: {error!r}", retryable=True) from None
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()

    def _submit_all(self, client: Any, destination_addr: str, parts: SmsParts) -> list[str]:
        """One part at a time, each answered before the next: a refused part stops the rest."""
        answers: dict[int, tuple[int, str]] = {}

        def record(pdu: Any, **_: Any) -> None:  # submit_sm_resp, and generic_nack (an error PDU, no message_id)
            message_id = getattr(pdu, "message_id", None) or b""
            answers[pdu.sequence] = (pdu.status, message_id.decode("ascii", "replace"))

        client.set_message_sent_handler(record)
        client.set_error_pdu_handler(record)
        deadline = time.monotonic() + self._timeout_seconds
        message_ids: list[str] = []
        try:
            for short_message in parts.short_messages:
                submitted = client.send_message(
                    source_addr_ton=self._source_addr_ton,
                    source_addr_npi=self._source_addr_npi,
                    source_addr=self._source_addr,
                    dest_addr_ton=consts.SMPP_TON_INTL,
                    dest_addr_npi=consts.SMPP_NPI_ISDN,
                    destination_addr=destination_addr,
                    esm_class=parts.esm_class,
                    data_coding=parts.data_coding,
                    short_message=short_message,
                )
                status, message_id = _answer(client, submitted.sequence, answers, deadline)
                if status != consts.SMPP_ESME_ROK:
                    description = consts.DESCRIPTIONS.get(status, "unknown status")
                    raise ChannelUnavailable(
                        f"SMSC refused the message: 0x{status:02X} {description}",
                        retryable=status in RETRYABLE_STATUSES,
                    )
                message_ids.append(message_id)
        finally:
            _set_read_timeout(client, self._timeout_seconds)
        return message_ids


def _answer(client: Any, sequence: int, answers: dict[int, tuple[int, str]], deadline: float) -> tuple[int, str]:
    while sequence not in answers:
        remaining_seconds = deadline - time.monotonic()
        if remaining_seconds <= 0:
            raise TimeoutError("no submit_sm_resp in time")
        _set_read_timeout(client, remaining_seconds)
        # Not smpplib's automatic enquire_link on a timeout: here a timeout means the answer is late.
        client.read_once(auto_send_enquire_link=False)
    return answers.pop(sequence)


def _set_read_timeout(client: Any, seconds: float) -> None:
    # smpplib sets its socket's timeout once, for each read; the deadline must cover all the answers together.
    if client._socket is not None:
        client._socket.settimeout(seconds)


def _alive(client: Any) -> bool:
    """Act on what the SMSC sent while we were idle (enquire_link); a closed link raises here."""
    try:
        client.poll()
    except (SmppConnectionError, PDUError, UnknownCommandError, OSError):
        return False
    return bool(client.state == consts.SMPP_CLIENT_STATE_BOUND_TX)
