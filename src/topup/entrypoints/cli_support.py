"""What every `topup` command group shares: the application for one command, errors as exit codes, tables for
people and JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from topup.bootstrap import Application, bootstrap
from topup.config import Settings
from topup.domain.errors import DomainError, ErrorKind
from topup.services.ports import Clock

console = Console()
errors = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
EXIT_REFUSED = 1
EXIT_INVALID = 2


@contextmanager
def application_for_command(clock: Clock | None = None) -> Iterator[Application]:
    application = bootstrap(Settings(), clock=clock)
    try:
        yield application
    except DomainError as error:
        errors.print(f"[red]error[/red] {error.code}: {error.message}")
        if error.details:
            errors.print(json.dumps(error.details, ensure_ascii=False, default=str))
        raise typer.Exit(EXIT_INVALID if error.kind is ErrorKind.INVALID else EXIT_REFUSED) from None
    finally:
        application.close()


def emit(as_json: bool, body: dict[str, Any], human: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    else:
        human()


def pairs(title: str, body: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    for key, value in body.items():
        if not isinstance(value, list | dict):
            table.add_row(key, "" if value is None else str(value))
    console.print(table)


def rows_table(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    if not rows:
        console.print(f"{title}: none.")
        return
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)
