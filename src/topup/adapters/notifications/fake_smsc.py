"""A fake SMSC: an SMPP 3.4 server small enough to read, for tests and development (asyncio and struct only).

It speaks bind_transmitter and bind_transceiver (wrong system id: 0x0F, wrong password: 0x0E), submit_sm
(answered with a fresh message id), enquire_link and unbind, and answers anything else with generic_nack. It
decodes each message (GSM 03.38 default alphabet, ASCII, Latin-1 or UCS2; another data_coding is refused with
0x45), joins the parts of a long one by their UDH reference, and keeps what it received in `messages()`. A
message is recorded before the answer to its last part is written, so a client that has its answer finds it.
Each part is decoded on its own, as a handset does: a client that cuts a character in two gets U+FFFD.

Magic destinations (the last seven digits):
- `…0000058`: submit_sm answered 0x58 throttled (retryable);
- `…0000011`: submit_sm answered 0x0B invalid destination address (final);
- `…0000099`: the connection is dropped without an answer.

`FakeSmsc(...).start()` serves on a free loopback port in a background thread; `stop()` closes it, and
`start()` again serves on the same port, as after a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

BIND_TRANSMITTER, BIND_TRANSCEIVER, SUBMIT_SM, UNBIND, ENQUIRE_LINK = 0x02, 0x09, 0x04, 0x06, 0x15
GENERIC_NACK, RESPONSE = 0x80000000, 0x80000000
ROK, RINVCMDLEN, RINVCMDID, RINVBNDSTS = 0x00, 0x02, 0x03, 0x04
RINVDSTADR, RINVPASWD, RINVSYSID, RSUBMITFAIL, RTHROTTLED = 0x0B, 0x0E, 0x0F, 0x45, 0x58
THROTTLED_SUFFIX, INVALID_DESTINATION_SUFFIX, DROP_SUFFIX = "0000058", "0000011", "0000099"
PDU_LENGTH_MAX = 4096
PENDING_TEXTS_MAX = 1000
STARTUP_SECONDS_MAX = 10.0
_UDHI = 0x40

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]"}
_GSM_EXTENSION |= {0x40: "|", 0x65: "€"}


@dataclass(frozen=True)
class ReceivedSms:
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    text: str
    data_coding: int
    message_ids: tuple[str, ...]  # one per part, in part order


@dataclass
class _Session:
    bound: bool = False


@dataclass(frozen=True)
class _Submit:
    envelope: ReceivedSms  # all but the text and the message ids
    esm_class: int
    short_message: bytes


def gsm_decode(septets: bytes) -> str:
    """One septet per octet, as SMPP carries the default alphabet; 0x1B escapes to the extension table."""
    characters: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            characters.append(_GSM_EXTENSION.get(septet, "\ufffd"))
            escaped = False
        elif septet == 0x1B:
            escaped = True
        else:
            characters.append(_GSM_BASIC[septet] if septet < 0x80 else "\ufffd")
    return "".join(characters) + ("\ufffd" if escaped else "")


_DECODERS: dict[int, Callable[[bytes], str]] = {
    0x00: gsm_decode,
    0x01: lambda octets: octets.decode("ascii", "replace"),
    0x03: lambda octets: octets.decode("latin-1"),
    0x08: lambda octets: octets.decode("utf-16-be", "replace"),
}


def _c_string(body: bytes, position: int) -> tuple[str, int]:
    end = body.index(b"\0", position)  # ValueError when missing: a malformed PDU
    return body[position:end].decode("latin-1"), end + 1


def _parse_submit(body: bytes) -> _Submit:
    _service_type, position = _c_string(body, 0)
    source_ton, source_npi = body[position], body[position + 1]
    source_addr, position = _c_string(body, position + 2)
    dest_ton, dest_npi = body[position], body[position + 1]
    destination_addr, position = _c_string(body, position + 2)
    esm_class = body[position]
    _schedule_delivery_time, position = _c_string(body, position + 3)  # after protocol_id and priority_flag
    _validity_period, position = _c_string(body, position)
    data_coding, sm_length = body[position + 2], body[position + 4]
    short_message = body[position + 5 : position + 5 + sm_length]
    if len(short_message) != sm_length:
        raise ValueError("short_message shorter than sm_length")
    envelope = ReceivedSms(
        source_addr, source_ton, source_npi, destination_addr, dest_ton, dest_npi, "", data_coding, ()
    )
    return _Submit(envelope, esm_class, short_message)


def _split_udh(submit: _Submit) -> tuple[tuple[int, int, int] | None, bytes]:
    """((reference, total, sequence) or None, payload) from an 8-bit or 16-bit concatenation header."""
    message = submit.short_message
    if not submit.esm_class & _UDHI:
        return None, message
    header, payload = message[1 : 1 + message[0]], message[1 + message[0] :]
    position = 0
    while position + 2 <= len(header):
        identifier, length = header[position], header[position + 1]
        value = header[position + 2 : position + 2 + length]
        if identifier == 0x00 and length == 3:
            return (value[0], value[1], value[2]), payload
        if identifier == 0x08 and length == 4:
            return (value[0] << 8 | value[1], value[2], value[3]), payload
        position += 2 + length
    return None, payload


def _pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">LLLL", 16 + len(body), command_id, status, sequence) + body


class FakeSmsc:
    """One SMSC account (`system_id`, `password`); `binds` and `unbinds` count the sessions, for tests."""

    def __init__(self, *, system_id: str, password: str, port: int = 0) -> None:
        self._system_id = system_id
        self._password = password
        self._port = port
        self._lock = threading.Lock()  # the loop's thread writes, the caller's reads
        self._messages: list[ReceivedSms] = []
        self._pending: dict[tuple[str, str, int, int], dict[int, tuple[str, str]]] = {}
        self._message_ids = itertools.count(1)
        self._connections: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._thread: threading.Thread | None = None
        self._startup_error: OSError | None = None
        self.binds = 0
        self.unbinds = 0

    @property
    def port(self) -> int:
        return self._port

    def messages(self) -> list[ReceivedSms]:
        with self._lock:
            return list(self._messages)

    def start(self) -> FakeSmsc:
        started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(started),), name="fake-smsc", daemon=True)
        self._thread.start()
        if not started.wait(STARTUP_SECONDS_MAX) or self._startup_error is not None:
            self._thread.join(timeout=STARTUP_SECONDS_MAX)
            raise RuntimeError(f"the fake SMSC did not start: {self._startup_error!r}")
        return self

    def stop(self) -> None:
        assert self._loop is not None
        assert self._thread is not None
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=STARTUP_SECONDS_MAX)
        assert not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def _main(self, started: threading.Event) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        self._startup_error = None
        try:
            server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)
            self._port = server.sockets[0].getsockname()[1]  # kept: a restart serves on the same port
        except OSError as error:  # the port is taken
            self._startup_error = error
            return
        finally:
            started.set()  # also on an error: start() raises it
        async with server:
            await self._stopping.wait()
            for connection in self._connections:  # a restart drops every link, as a real one does
                connection.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        session = _Session()
        try:
            while True:
                command_id, sequence, body = await _read_pdu(reader)
                answer = self._answer(command_id, sequence, body, session)
                if answer is None:  # a magic destination: hang up without a word
                    return
                writer.write(answer)
                await writer.drain()
                if command_id == UNBIND:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            return  # the client left, or sent something that is not SMPP
        finally:
            self._connections.discard(task)
            writer.close()

    def _answer(self, command_id: int, sequence: int, body: bytes, session: _Session) -> bytes | None:
        """The bytes to write back (none for a response), or None to drop the connection."""
        if command_id & RESPONSE:  # enquire_link_resp and the like: nothing to say
            return b""
        if command_id in (BIND_TRANSMITTER, BIND_TRANSCEIVER):
            return self._bind(command_id, sequence, body, session)
        if command_id == SUBMIT_SM:
            return self._submit(sequence, body, session)
        if command_id == ENQUIRE_LINK:
            return _pdu(ENQUIRE_LINK | RESPONSE, ROK, sequence)
        if command_id == UNBIND:
            with self._lock:
                self.unbinds += 1
            return _pdu(UNBIND | RESPONSE, ROK, sequence)
        return _pdu(GENERIC_NACK, RINVCMDID, sequence)

    def _bind(self, command_id: int, sequence: int, body: bytes, session: _Session) -> bytes:
        system_id, position = _c_string(body, 0)
        password, _ = _c_string(body, position)
        if system_id != self._system_id:
            return _pdu(command_id | RESPONSE, RINVSYSID, sequence)
        if password != self._password:
            return _pdu(command_id | RESPONSE, RINVPASWD, sequence)
        session.bound = True
        with self._lock:
            self.binds += 1
        return _pdu(command_id | RESPONSE, ROK, sequence, b"FakeSMSC\0")

    def _submit(self, sequence: int, body: bytes, session: _Session) -> bytes | None:
        if not session.bound:
            return _pdu(SUBMIT_SM | RESPONSE, RINVBNDSTS, sequence)
        try:
            submit = _parse_submit(body)
        except (IndexError, ValueError):
            return _pdu(GENERIC_NACK, RINVCMDLEN, sequence)
        destination = submit.envelope.destination_addr
        if destination.endswith(DROP_SUFFIX):
            return None
        if destination.endswith(THROTTLED_SUFFIX):
            return _pdu(SUBMIT_SM | RESPONSE, RTHROTTLED, sequence)
        if destination.endswith(INVALID_DESTINATION_SUFFIX):
            return _pdu(SUBMIT_SM | RESPONSE, RINVDSTADR, sequence)
        return self._accept(submit, sequence)

    def _accept(self, submit: _Submit, sequence: int) -> bytes:
        decode = _DECODERS.get(submit.envelope.data_coding)
        if decode is None:
            return _pdu(SUBMIT_SM | RESPONSE, RSUBMITFAIL, sequence)
        concatenation, payload = _split_udh(submit)
        message_id = f"{next(self._message_ids):08x}"
        self._record(submit, concatenation, decode(payload), message_id)
        return _pdu(SUBMIT_SM | RESPONSE, ROK, sequence, message_id.encode("ascii") + b"\0")

    def _record(self, submit: _Submit, concatenation: tuple[int, int, int] | None, text: str, message_id: str) -> None:
        envelope = submit.envelope
        with self._lock:
            if concatenation is None:
                self._messages.append(replace(envelope, text=text, message_ids=(message_id,)))
                return
            reference, total, part = concatenation
            key = (envelope.source_addr, envelope.destination_addr, reference, total)
            parts = self._pending.setdefault(key, {})
            parts[part] = (text, message_id)
            if len(parts) == total:
                del self._pending[key]
                ordered = [parts[number] for number in sorted(parts)]
                whole_text = "".join(part_text for part_text, _ in ordered)
                message_ids = tuple(part_id for _, part_id in ordered)
                self._messages.append(replace(envelope, text=whole_text, message_ids=message_ids))
            while len(self._pending) > PENDING_TEXTS_MAX:  # parts whose siblings never came: forget the oldest
                del self._pending[next(iter(self._pending))]


async def _read_pdu(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    header = await reader.readexactly(16)
    length, command_id, _status_field, sequence = struct.unpack(">LLLL", header)
    if not 16 <= length <= PDU_LENGTH_MAX:
        raise ValueError(f"command_length {length} out of range")
    return command_id, sequence, await reader.readexactly(length - 16)
