"""The `topup` command, run as a real process on a fresh SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLE_CATALOGUE

TOPUP = Path(sys.executable).parent / "topup"
NUMBER = "0501234567"
CHEAP_BUNDLE = "azercell-1gb-1d"

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(tmp_path: Path) -> Run:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TOPUP_")}
    env.update(TOPUP_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", COLUMNS="200", NO_COLOR="1")

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: PLW1510 - the exit code is checked below, with the output in the message
            [str(TOPUP), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == expect, (args, result.returncode, result.stdout, result.stderr)
        return result

    return run


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def bare(tmp_path: Path) -> Run:
    """The CLI on a database file that does not exist yet."""
    return _runner(tmp_path)


@pytest.fixture
def cli(bare: Run) -> Run:
    """The CLI on a migrated database with the sample catalogue loaded."""
    bare("db", "upgrade")
    bare("catalogue", "load", str(SAMPLE_CATALOGUE))
    return bare


def test_the_cheap_bundle_is_in_the_sample_catalogue() -> None:
    catalogue = tomllib.loads(SAMPLE_CATALOGUE.read_text(encoding="utf-8"))
    [bundle] = [b for b in catalogue["operators"]["azercell"]["bundles"] if b["code"] == CHEAP_BUNDLE]
    assert bundle["price"] == "1.00"


def test_set_up_a_database_catalogue_and_api_key(bare: Run) -> None:
    assert "Database schema is current." in bare("db", "upgrade").stdout
    assert "Database schema is current." in bare("db", "upgrade").stdout  # again: nothing to do

    loaded = bare("catalogue", "load", str(SAMPLE_CATALOGUE)).stdout
    again = bare("catalogue", "load", str(SAMPLE_CATALOGUE)).stdout
    as_data = as_json(bare("catalogue", "load", str(SAMPLE_CATALOGUE), "--json"))

    assert "Catalogue 2026.12-sample.4 loaded: azercell, bakcell, nar, naxtel." in loaded
    assert "Catalogue 2026.12-sample.4 already current" in again
    assert as_data == {
        "version": "2026.12-sample.4",
        "changed": False,
        "operators": ["azercell", "bakcell", "nar", "naxtel"],
    }

    created = bare("api-keys", "create", "--role", "admin", "--name", "x")

    lines = created.stdout.splitlines()
    assert len(lines) == 1, created.stdout
    assert lines[-1].startswith("tpk_")
    assert len(lines[-1]) > 40
    assert "will not be shown again" in created.stderr
    assert lines[-1] not in created.stderr
    listed = as_json(bare("api-keys", "list", "--json"))["items"]
    assert [(item["name"], item["role"]) for item in listed] == [("x", "admin")]
    assert lines[-1] not in json.dumps(listed)


def test_an_api_key_with_an_unknown_role_is_refused(cli: Run) -> None:
    result = cli("api-keys", "create", "--role", "root", "--name", "x", expect=2)

    assert result.stdout == ""
    assert "invalid_input" in result.stderr


def test_provision_top_up_buy_and_read_back(cli: Run, tmp_path: Path) -> None:
    line = as_json(cli("lines", "add", NUMBER, "--json"))
    assert line == {
        "msisdn": "+994501234567",
        "national": "050 123 45 67",
        "operator": "azercell",
        "type": "prepaid",
        "status": "active",
        "language": "az",
        "iccid": None,
        "valid_until": None,
    }
    assert as_json(cli("lookup", "050 123 45 67", "--json")) == {
        "msisdn": "+994501234567",
        "national": "050 123 45 67",
        "operator": "azercell",
        "original_operator": "azercell",
        "ported": False,
    }

    topped = as_json(cli("top-up", NUMBER, "5.00", "--json"))
    assert topped["amount"] == "5.00"
    assert topped["currency"] == "AZN"
    assert topped["balance_after"] == "5.00"
    assert topped["channel"] == "cli"
    assert topped["kind"] == "topup"

    first = as_json(cli("top-up", NUMBER, "5.00", "--idempotency-key", "k1", "--json"))
    retry = as_json(cli("top-up", NUMBER, "5.00", "--idempotency-key", "k1", "--json"))
    assert retry == first
    assert first["balance_after"] == "10.00"
    balance = as_json(cli("balance", NUMBER, "--json"))
    assert balance["main"] == {"amount": "10.00", "currency": "AZN"}
    assert balance["buckets"] == []

    offered = as_json(cli("bundles", "list", "azercell", "--json"))["items"]
    assert offered[0]["code"] == CHEAP_BUNDLE  # the cheapest first
    assert {b["code"]: b["price"] for b in offered}["azercell-10gb-30d"] == "15.00"

    bought = as_json(cli("bundles", "buy", NUMBER, CHEAP_BUNDLE, "--json"))
    assert bought["kind"] == "bundle_purchase"
    assert bought["bundle"] == CHEAP_BUNDLE
    assert bought["amount"] == "1.00"
    assert bought["balance_after"] == "9.00"
    balance = as_json(cli("balance", NUMBER, "--json"))
    assert balance["main"]["amount"] == "9.00"
    assert [(b["bundle"], b["unit"], b["remaining"]) for b in balance["buckets"]] == [
        (CHEAP_BUNDLE, "data_kb", 1_000_000)
    ]

    history = as_json(cli("history", NUMBER, "--json"))
    assert [item["id"] for item in history["items"]] == [bought["id"], first["id"], topped["id"]]
    assert history["next_cursor"] is None
    only_top_ups = as_json(cli("history", NUMBER, "--kind", "topup", "--json"))["items"]
    assert [item["id"] for item in only_top_ups] == [first["id"], topped["id"]]

    pdf, html = tmp_path / "r.pdf", tmp_path / "r.html"
    cli("receipt", topped["id"], "--pdf", str(pdf))
    cli("receipt", topped["id"], "--html", str(html))
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = html.read_text(encoding="utf-8")
    assert topped["verification_code"] in text
    assert "+994 50 *** ** 67" in text
    assert "501234567" not in text
    shown = as_json(cli("receipt", topped["id"], "--json"))
    assert shown["verification_code"] == topped["verification_code"]
    assert shown["operator_name"] == "Azercell"

    audit = cli("ledger", "check", "--json")
    assert as_json(audit)["ok"] is True
    assert as_json(audit)["balance_mismatches"] == []


def test_demo_seed_runs_once(cli: Run) -> None:
    first = cli("demo", "seed")
    second = cli("demo", "seed")

    assert "Demo lines: 8 added, 0 already there." in first.stdout
    assert "Demo lines: 0 added, 8 already there." in second.stdout
    assert as_json(cli("lookup", "+994503334455", "--json"))["operator"] == "bakcell"
    assert as_json(cli("ledger", "check", "--json"))["ok"] is True


def test_a_port_moves_the_line(cli: Run) -> None:
    cli("lines", "add", NUMBER, "--json")

    ported = as_json(cli("ports", "add", NUMBER, "bakcell", "--json"))

    assert ported == {
        "msisdn": "+994501234567",
        "national": "050 123 45 67",
        "operator": "bakcell",
        "original_operator": "azercell",
        "ported": True,
    }
    assert as_json(cli("lookup", NUMBER, "--json"))["operator"] == "bakcell"
    assert as_json(cli("lines", "show", NUMBER, "--json"))["operator"] == "bakcell"
    assert [item["msisdn"] for item in as_json(cli("ports", "list", "--json"))["items"]] == ["+994501234567"]

    removed = as_json(cli("ports", "remove", NUMBER, "--json"))

    assert removed["operator"] == "azercell"
    assert removed["ported"] is False
    assert as_json(cli("lookup", NUMBER, "--json"))["operator"] == "azercell"


ERRORS = [
    (("top-up", NUMBER, "abc"), 2, "invalid_amount"),
    (("top-up", "--", NUMBER, "-5"), 2, "invalid_amount"),
    (("top-up", NUMBER, "5,00"), 2, "invalid_amount"),
    (("top-up", NUMBER, "5.001"), 2, "invalid_amount"),
    (("top-up", NUMBER, "0.50"), 1, "amount_out_of_range"),
    (("top-up", "0509999999", "5"), 1, "line_not_found"),
    (("top-up", "050-FLOWERS", "5"), 2, "number_malformed"),
    (("lines", "add", NUMBER), 1, "line_exists"),
    (("lines", "add", "0401234567"), 1, "operator_not_supported"),
    (("lookup", "+79123456789"), 2, "number_foreign"),
    (("bundles", "buy", NUMBER, "azercell-10gb-30d"), 1, "insufficient_balance"),
    (("bundles", "buy", NUMBER, "nar-3-5gb-14d"), 1, "bundle_of_another_operator"),
    (("bundles", "list", "vodafone"), 1, "operator_unknown"),
    (("ports", "add", NUMBER, "naxtel"), 1, "operator_closed"),
    (("receipt", "0" * 32), 1, "transaction_not_found"),
]


def test_errors_print_their_code_exit_non_zero_and_change_nothing(cli: Run) -> None:
    cli("lines", "add", NUMBER)
    cli("top-up", NUMBER, "5.00")

    for args, exit_code, code in ERRORS:  # one database for all: each failure must leave it as it was
        result = cli(*args, expect=exit_code)
        assert code in result.stderr, (args, result.stderr)
        assert result.stdout == "", (args, result.stdout)

    assert as_json(cli("balance", NUMBER, "--json"))["main"]["amount"] == "5.00"
    assert len(as_json(cli("history", NUMBER, "--json"))["items"]) == 1
    assert as_json(cli("ports", "list", "--json"))["items"] == []
    assert as_json(cli("ledger", "check", "--json"))["ok"] is True


def test_topping_up_a_number_no_operator_serves(cli: Run) -> None:
    result = cli("top-up", "0401234567", "5", expect=1)

    assert "operator_not_supported" in result.stderr


def test_a_data_session_through_the_cli_charges_what_was_used(cli: Run) -> None:
    cli("lines", "add", "+994501112233")
    cli("top-up", "+994501112233", "5.00")

    opened = as_json(cli("charging", "open", "+994501112233", "--service", "data", "--units", "2000", "--json"))
    updated = as_json(
        cli("charging", "update", opened["session_id"], "--request", "1", "--used", "700", "--more", "500", "--json")
    )
    ended = as_json(cli("charging", "end", opened["session_id"], "--request", "2", "--used", "250", "--json"))
    again = cli("charging", "end", opened["session_id"], "--request", "3", "--used", "0", expect=1)

    assert (opened["granted_units"], updated["granted_total_units"]) == (2000, 2500)
    assert (ended["state"], ended["used_units"], ended["charged"]) == ("terminated", 950, "0.10")
    assert "session_terminated" in again.stderr
    assert as_json(cli("balance", "+994501112233", "--json"))["main"]["amount"] == "4.90"
