"""What the sandboxes share: their SQLite file, bounded request reading, locked-down pages and errors answered
as they stand. Each sandbox keeps its provider's own formats (error bodies, page headers, form limits) and
passes them in."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AfterValidator, Field

BUSY_TIMEOUT_SECONDS = 5.0
# No scripts, nothing from elsewhere, nothing cached.
PAGE_HEADERS: Mapping[str, str] = MappingProxyType(
    {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Cache-Control": "no-store"}
)
_T = TypeVar("_T")


# The sandbox's own threads for its SQLite work (see `off_loop`).
_DATABASE_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-db")


async def off_loop(function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """Run blocking SQLite work on the sandbox's own threads: not on the event loop (a write waiting for the
    file's lock, held by another server process, would stall every request of this one), and not on the
    server's request threads (API requests waiting for the sandbox may hold all of those)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_DATABASE_THREADS, functools.partial(function, *args, **kwargs))


# --- the sandbox's memory: one SQLite file --------------------------------------------------------------------


def create_database(path: Path, schema: str) -> None:
    """Makes the file (and its folder) and its tables, unless there already; in WAL mode, so that readers do
    not wait for a writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with transaction(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(schema)


@contextmanager
def connect(path: Path, *, autocommit: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection for one operation (requests run on a thread pool, and sqlite3 connections are not to be
    shared), its rows read by name. With `autocommit`, sqlite3 begins no transaction by itself: the caller does."""
    if autocommit:
        opened = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    else:  # sqlite3's default: it begins a transaction before a change
        opened = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)
    with closing(opened) as connection:
        connection.row_factory = sqlite3.Row
        # WAL with NORMAL: a commit survives the process being killed (the crash test), only a power cut could
        # lose the last ones; a sandbox needs no fsync per payment.
        connection.execute("PRAGMA synchronous=NORMAL")
        yield connection


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection whose changes are committed when the block ends, or rolled back on an exception."""
    with connect(path) as connection, connection:
        yield connection


# --- requests --------------------------------------------------------------------------------------------------


async def read_bounded(request: Request, size_max_bytes: int) -> bytes | None:
    """The request body, or None when it is larger than `size_max_bytes` (reading stops there)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > size_max_bytes:
            return None
    return bytes(body)


def parse_form(
    body: bytes, *, fields_max: int, keep_blank_values: bool = False, charset: str | None = None
) -> dict[str, str] | None:
    """An urlencoded form's fields (the first value of each), or None when it has more than `fields_max`. The
    body is UTF-8; with `charset`, it must be ASCII and its percent-escapes are in `charset`."""
    text = body.decode("ascii" if charset else "utf-8", errors="replace")
    try:
        fields = parse_qs(
            text,
            keep_blank_values=keep_blank_values,
            max_num_fields=fields_max,
            encoding=charset or "utf-8",
            errors="replace",
        )
    except ValueError:  # more fields than that
        return None
    return {name: values[0] for name, values in fields.items()}


async def read_form(
    request: Request, *, size_max_bytes: int, fields_max: int, keep_blank_values: bool = False
) -> dict[str, str] | None:
    """A small UTF-8 urlencoded form, or None when it is too large or has too many fields."""
    body = await read_bounded(request, size_max_bytes)
    if body is None:
        return None
    return parse_form(body, fields_max=fields_max, keep_blank_values=keep_blank_values)


def is_web_address(url: str) -> bool:
    """An absolute http(s) address."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 host, for instance
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _web_address(value: str) -> str:
    if not is_web_address(value):
        raise ValueError("must be an absolute http(s) address")
    return value


# A field of a request model: an absolute http(s) address of at most 2,048 characters.
WebAddress = Annotated[str, Field(max_length=2048), AfterValidator(_web_address)]


# --- answers ---------------------------------------------------------------------------------------------------


class SandboxError(Exception):
    """A refusal answered as it stands: an HTTP status and a JSON body in the provider's own shape, perhaps
    with headers. Each sandbox subclasses it for its provider's shape and installs `answer_error` for it."""

    def __init__(
        self, status_code: int, body: Mapping[str, object], *, name: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(name)
        self.status_code = status_code
        self.body = body
        self.headers = headers


async def answer_error(request: Request, error: Exception) -> JSONResponse:
    """The exception handler for `SandboxError`."""
    assert isinstance(error, SandboxError)
    return JSONResponse(error.body, status_code=error.status_code, headers=error.headers)


def found(value: _T | None, missing: Callable[[], Exception]) -> _T:
    """`value`; when there is none, the error `missing` makes is raised."""
    if value is None:
        raise missing()
    return value


def html(content: str, status_code: int = 200, *, headers: Mapping[str, str] = PAGE_HEADERS) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=headers)


def with_query(url: str, /, **parameters: str) -> str:
    """`url` with `parameters` appended to its query, leaving what was there untouched."""
    parts = urlsplit(url)
    extra = urlencode(parameters)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))
