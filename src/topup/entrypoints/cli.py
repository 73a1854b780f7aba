"""The `topup` command: tables for people, `--json` for scripts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from topup.bootstrap import Application
from topup.domain.lines import LineType
from topup.domain.money import format_amount, parse_amount
from topup.domain.quotes import ProductType
from topup.entrypoints import demo, simulate
from topup.entrypoints.api import serialise
from topup.entrypoints.cli_offline import agents_app, kiosk_app, kiosks_app, ussd_app, vouchers_app
from topup.entrypoints.cli_self_service import auto_recharge_app, cards_app, notifications_app
from topup.entrypoints.cli_support import (
    EXIT_INVALID,
    EXIT_REFUSED,
    JsonOption,
    application_for_command,
    console,
    emit,
    errors,
    pairs,
    rows_table,
)
from topup.services import (
    api_keys,
    bundles,
    catalogue,
    charging,
    history,
    ledger,
    lines,
    notifications,
    numbers,
    orders,
    quotes,
    reconciliation,
    topups,
)
from topup.services.idempotency import idempotent_request, run_once
from topup.services.ports import StoredResponse

app = typer.Typer(help="Topup: top up prepaid mobile lines in Azerbaijan.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The operators' catalogue.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
lines_app = typer.Typer(help="Lines.", no_args_is_help=True)
ports_app = typer.Typer(help="Ported numbers.", no_args_is_help=True)
bundles_app = typer.Typer(help="Bundles.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger.", no_args_is_help=True)
fx_app = typer.Typer(help="Exchange rates (AZN per unit of a currency).", no_args_is_help=True)
orders_app = typer.Typer(help="Orders paid by card: follow, cancel, refund.", no_args_is_help=True)
charging_app = typer.Typer(
    help="Online charging as the network does it: open a session, report usage, end it; SMS events.",
    no_args_is_help=True,
)
for name, sub in (
    ("db", db_app),
    ("catalogue", catalogue_app),
    ("api-keys", keys_app),
    ("lines", lines_app),
    ("ports", ports_app),
    ("bundles", bundles_app),
    ("demo", demo_app),
    ("ledger", ledger_app),
    ("fx", fx_app),
    ("orders", orders_app),
    ("charging", charging_app),
    ("cards", cards_app),
    ("auto-recharge", auto_recharge_app),
    ("notifications", notifications_app),
    ("agents", agents_app),
    ("kiosks", kiosks_app),
    ("vouchers", vouchers_app),
    ("ussd", ussd_app),
    ("kiosk", kiosk_app),
):
    app.add_typer(sub, name=name)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn

    with application_for_command() as application:
        if not application.schema_is_current():
            errors.print("[red]The database schema is not current:[/red] run `topup db upgrade` first.")
            raise typer.Exit(EXIT_REFUSED)
        database = application.settings.database_url.split("@")[-1]
    # Unless told otherwise, the server is reached where it listens: 3-D Secure returns and the sandbox
    # acquirer's address follow --host and --port (the workers read settings from the environment).
    os.environ.setdefault("TOPUP_PUBLIC_BASE_URL", f"http://{host}:{port}")
    console.print(f"Topup API on [bold]http://{host}:{port}[/bold] — docs at http://{host}:{port}/docs")
    console.print(f"Database: {database}")
    console.print("An API key: [bold].venv/bin/topup api-keys create --role admin --name me[/bold]")
    uvicorn.run(
        "topup.entrypoints.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Settle what is due now and exit")] = False,
) -> None:
    """Settle unfinished orders (unknown answers, crashes, abandoned 3-D Secure) until stopped."""
    import threading

    from topup.entrypoints import worker as worker_module

    with application_for_command() as application:
        if once:
            console.print(f"Orders looked at: {worker_module.run_once(application)}")
            return
        stop = threading.Event()
        console.print(f"Worker running every {application.settings.worker_interval_seconds:g} s; Ctrl+C stops it.")
        try:
            worker_module.run_until_stopped(
                application, stop, interval_seconds=application.settings.worker_interval_seconds
            )
        except KeyboardInterrupt:
            stop.set()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    with application_for_command() as application:
        application.migrate()
    console.print("Database schema is current.")


@catalogue_app.command("load")
def catalogue_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)], as_json: JsonOption = False
) -> None:
    """Load a catalogue file (TOML) and make it current; loading the current version again does nothing."""
    with application_for_command() as application:
        loaded, changed = catalogue.load_catalogue(
            application.uow(), application.clock, source=file.read_text(encoding="utf-8")
        )
    body = {"version": loaded.version, "changed": changed, "operators": sorted(loaded.operators)}
    emit(
        as_json,
        body,
        lambda: console.print(
            f"Catalogue {loaded.version} {'loaded' if changed else 'already current'}: "
            f"{', '.join(sorted(loaded.operators))}."
        ),
    )


@catalogue_app.command("show")
def catalogue_show(operator: str, as_json: JsonOption = False) -> None:
    """An operator's top-up rules, tariff and bundles."""
    with application_for_command() as application:
        current = catalogue.current_catalogue(application.uow())
        body = serialise.operator(current.operator(operator), with_catalogue=True)

    def human() -> None:
        pairs(body["name"], body)
        _bundle_table(body["bundles"])

    emit(as_json, body, human)


@keys_app.command("create")
def api_key_create(
    role: Annotated[str, typer.Option(help="admin, integrator, agent, kiosk or ussd_gateway")],
    name: Annotated[str, typer.Option(help="Who holds the key")],
    agent: Annotated[str | None, typer.Option(help="The agent (or kiosk) an agent or kiosk key acts for")] = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line."""
    with application_for_command() as application:
        record, key = api_keys.create_api_key(
            application.uow(), application.clock, name=name, role=role, agent_id=agent
        )
    errors.print(f"API key {record.id} ({record.role}) for {record.name}; it will not be shown again:")
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def api_key_list(as_json: JsonOption = False) -> None:
    """API keys (never the keys themselves)."""
    with application_for_command() as application:
        records = api_keys.list_api_keys(application.uow())
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "prefix": r.prefix,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in records
    ]
    emit(as_json, {"items": rows}, lambda: rows_table("API keys", rows))


@keys_app.command("revoke")
def api_key_revoke(key_id: str) -> None:
    """Revoke an API key by its id (running servers forget it within their cache time)."""
    with application_for_command() as application:
        api_keys.revoke_api_key(application.uow(), application.clock, key_id=key_id)
    console.print("Revoked.")


@app.command()
def lookup(number: str, as_json: JsonOption = False) -> None:
    """Normalise a number and show its operator."""
    with application_for_command() as application:
        body = serialise.number_info(numbers.look_up(application.uow(), number))
    emit(as_json, body, lambda: pairs(body["msisdn"], body))


@lines_app.command("add")
def lines_add(
    number: str,
    line_type: Annotated[LineType, typer.Option("--type")] = LineType.PREPAID,
    iccid: str | None = None,
    language: str = "az",
    as_json: JsonOption = False,
) -> None:
    """Provision a line."""
    with application_for_command() as application:
        line = lines.provision_line(
            application.uow(),
            application.clock,
            number=number,
            line_type=line_type,
            iccid=iccid,
            language=language,
        )
        body = serialise.line(line)
    emit(as_json, body, lambda: pairs("Line provisioned", body))


@lines_app.command("show")
def lines_show(number: str, as_json: JsonOption = False) -> None:
    """A line."""
    with application_for_command() as application:
        body = serialise.line(lines.get_line(application.uow(), number=number))
    emit(as_json, body, lambda: pairs(body["msisdn"], body))


@ports_app.command("add")
def ports_add(number: str, operator: str, as_json: JsonOption = False) -> None:
    """Record that NUMBER now belongs to OPERATOR."""
    with application_for_command() as application:
        body = serialise.number_info(
            numbers.add_port(application.uow(), application.clock, number=number, operator=operator)
        )
    emit(as_json, body, lambda: pairs("Port recorded", body))


@ports_app.command("remove")
def ports_remove(number: str, as_json: JsonOption = False) -> None:
    """Forget a port: the prefix's operator serves the number again."""
    with application_for_command() as application:
        body = serialise.number_info(numbers.remove_port(application.uow(), application.clock, number=number))
    emit(as_json, body, lambda: pairs("Port removed", body))


@ports_app.command("list")
def ports_list(as_json: JsonOption = False) -> None:
    """Ported numbers."""
    with application_for_command() as application:
        rows = [
            {"msisdn": m.e164, "operator": operator, "created_at": created_at.isoformat()}
            for m, operator, created_at in numbers.list_ports(application.uow())
        ]
    emit(as_json, {"items": rows}, lambda: rows_table("Ported numbers", rows))


def _once(
    application: Application, key: str | None, payload: str, work: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """Value-moving commands accept --idempotency-key, so a script can retry safely."""
    if key is None:
        return work(application.uow())
    uow = application.uow()
    request = idempotent_request("cli", key, "CLI", payload, b"")
    stored, _ = run_once(uow, application.clock, request, lambda: StoredResponse(0, json.dumps(work(uow))))
    result: dict[str, Any] = json.loads(stored.body)
    return result


IdempotencyOption = Annotated[str | None, typer.Option(help="Retry-safe key: the same key never moves value twice.")]


@app.command("top-up")
def top_up(number: str, amount: str, idempotency_key: IdempotencyOption = None, as_json: JsonOption = False) -> None:
    """Top up NUMBER by AMOUNT (AZN, e.g. 5.00)."""
    with application_for_command() as application:
        amount_qepik = parse_amount(amount)
        body = _once(
            application,
            idempotency_key,
            f"top-up {number} {amount_qepik}",
            lambda uow: serialise.transaction(
                topups.top_up(
                    uow,
                    application.clock,
                    application.codes,
                    number=number,
                    amount_qepik=amount_qepik,
                    channel="cli",
                )
            ),
        )
    emit(as_json, body, lambda: pairs("Top-up done", body))


@app.command()
def balance(number: str, as_json: JsonOption = False) -> None:
    """Main balance, validity and bundle buckets."""
    with application_for_command() as application:
        body = serialise.balance(lines.balance(application.uow(), application.clock, number=number))

    def human() -> None:
        pairs(
            f"{body['msisdn']} ({body['operator']})",
            {
                "main": f"{body['main']['amount']} AZN",
                "valid_until": body["valid_until"],
                "status": body["status"],
            },
        )
        if body["buckets"]:
            rows_table("Bundles", body["buckets"])

    emit(as_json, body, human)


@app.command("history")
def history_command(
    number: str,
    kind: Annotated[list[str] | None, typer.Option(help="topup or bundle_purchase; repeat for several")] = None,
    created_from: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"])
    ] = None,
    created_to: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"])] = None,
    cursor: str | None = None,
    limit: int = 50,
    as_json: JsonOption = False,
) -> None:
    """A line's transactions, newest first. Dates without a zone are Baku dates."""
    from topup.domain.calendar import BAKU

    def aware(moment: datetime | None) -> datetime | None:
        return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=BAKU)

    with application_for_command() as application:
        page = history.transactions(
            application.uow(),
            number=number,
            kinds=kind,
            created_from=aware(created_from),
            created_to=aware(created_to),
            cursor=cursor,
            limit=limit,
        )
    items = [serialise.transaction(r) for r in page.items]
    body = {"items": items, "next_cursor": page.next_cursor}
    columns = ("created_at", "kind", "amount", "balance_after", "valid_until", "id")

    def human() -> None:
        rows_table(f"History of {number}", [{c: item.get(c) for c in columns} for item in items])
        if page.next_cursor:
            console.print(f"More: --cursor {page.next_cursor}")

    emit(as_json, body, human)


@bundles_app.command("list")
def bundles_list(operator: str, as_json: JsonOption = False) -> None:
    """OPERATOR's bundles (azercell, bakcell, nar)."""
    with application_for_command() as application:
        items = [serialise.bundle(b) for b in bundles.list_bundles(application.uow(), operator=operator)]
    emit(as_json, {"items": items}, lambda: _bundle_table(items))


@bundles_app.command("buy")
def bundles_buy(
    number: str, bundle: str, idempotency_key: IdempotencyOption = None, as_json: JsonOption = False
) -> None:
    """Buy BUNDLE for NUMBER from its main balance."""
    with application_for_command() as application:
        body = _once(
            application,
            idempotency_key,
            f"bundle {number} {bundle}",
            lambda uow: serialise.transaction(
                bundles.buy_bundle(
                    uow,
                    application.clock,
                    application.codes,
                    number=number,
                    bundle_code=bundle,
                    channel="cli",
                )
            ),
        )
    emit(as_json, body, lambda: pairs("Bundle bought", body))


@app.command()
def receipt(
    transaction_id: str,
    pdf: Annotated[Path | None, typer.Option(help="Write the PDF receipt to this file")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML receipt to this file")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a transaction's receipt, or write it as PDF or HTML."""
    from topup.adapters.receipts.html import render_receipt_html
    from topup.adapters.receipts.pdf import render_receipt_pdf

    with application_for_command() as application:
        found = history.receipt(application.uow(), transaction_id=transaction_id)
        base_url = application.settings.public_base_url
    if pdf is not None:
        pdf.write_bytes(render_receipt_pdf(found))
        console.print(f"PDF receipt written to {pdf}")
    if html is not None:
        html.write_text(render_receipt_html(found), encoding="utf-8")
        console.print(f"HTML receipt written to {html}")
    if pdf is None and html is None:
        body = serialise.transaction(found.record, base_url=base_url)
        body["operator_name"] = found.operator.name
        emit(as_json, body, lambda: pairs("Receipt", body))


@ledger_app.command("check")
def ledger_check(as_json: JsonOption = False) -> None:
    """Check conservation (debits = credits per unit) and that every balance equals its transfers."""
    with application_for_command() as application:
        audit = ledger.audit_ledger(application.uow())
    units = [
        {"unit": t.unit.value, "debits": t.debits, "credits": t.credits, "transfers": t.transfers} for t in audit.totals
    ]
    mismatches = [{"account_id": a, "stored": s, "from_transfers": d} for a, s, d in audit.balance_mismatches]
    body = {
        "ok": audit.ok,
        "accounts": audit.accounts,
        "units": units,
        "balance_mismatches": mismatches,
        "unit_mismatches": audit.unit_mismatches,
        "negative_balances": audit.negative_balances,
    }

    def human() -> None:
        rows_table("Ledger per unit", units)
        verdict = "[green]balanced[/green]" if audit.ok else "[red]NOT balanced[/red]"
        console.print(f"{audit.accounts} accounts; ledger {verdict}.")
        if mismatches:
            rows_table("Balances that differ from their transfers", mismatches)

    emit(as_json, body, human)
    if not audit.ok:
        raise typer.Exit(EXIT_REFUSED)


@orders_app.command("list")
def orders_list(
    number: Annotated[str | None, typer.Option(help="Only this number's orders")] = None,
    status: Annotated[str | None, typer.Option(help="created, awaiting_payment, paid, fulfilled, failed, ...")] = None,
    limit: int = 50,
    as_json: JsonOption = False,
) -> None:
    """Orders, newest first (staff view: every integrator's)."""
    with application_for_command() as application:
        found = orders.list_orders(application.uow(), scope=None, number=number, state=status, limit=limit)
        base_url = application.settings.public_base_url
    items = [serialise.order(o, base_url=base_url) for o in found]
    columns = ("id", "status", "msisdn", "created_at")

    def human() -> None:
        rows = [
            {c: item[c] for c in columns} | {"charge": f"{item['charge']['amount']} {item['charge']['currency']}"}
            for item in items
        ]
        rows_table("Orders", rows)

    emit(as_json, {"items": items}, human)


@orders_app.command("show")
def orders_show(order_id: str, as_json: JsonOption = False) -> None:
    """One order with its transitions."""
    with application_for_command() as application:
        body = serialise.order(
            orders.get_order(application.uow(), order_id=order_id), base_url=application.settings.public_base_url
        )

    def human() -> None:
        pairs(f"Order {body['id']}", {**body, "charge": f"{body['charge']['amount']} {body['charge']['currency']}"})
        rows_table("Transitions", body["transitions"])

    emit(as_json, body, human)


@orders_app.command("cancel")
def orders_cancel(order_id: str, as_json: JsonOption = False) -> None:
    """Cancel an order that is not paid yet."""
    with application_for_command() as application:
        body = serialise.order(orders.cancel(application.uow(), application.saga, order_id=order_id, scope=None))
    emit(as_json, body, lambda: console.print(f"Order {body['id']}: {body['status']}."))


@orders_app.command("refund")
def orders_refund(order_id: str, as_json: JsonOption = False) -> None:
    """Refund a fulfilled order: its delivery is taken back out of the ledger, then the card is refunded."""
    with application_for_command() as application:
        body = serialise.order(orders.refund(application.uow(), application.saga, order_id=order_id))
    emit(as_json, body, lambda: console.print(f"Order {body['id']}: {body['status']}."))


@app.command()
def reconcile(
    day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The Baku day, YYYY-MM-DD")],
    as_json: JsonOption = False,
) -> None:
    """Payments captured at the acquirer against value delivered, for one day; exits 1 on any mismatch."""
    with application_for_command() as application:
        report = reconciliation.reconcile(application.uow(), application.saga, day=day.date())
    body = serialise.reconciliation(report)

    def human() -> None:
        pairs(
            f"Reconciliation {body['date']}",
            {
                "orders": body["orders"],
                "captured": ", ".join(f"{v} {k}" for k, v in body["captured"].items()) or "0.00",
                "refunded": ", ".join(f"{v} {k}" for k, v in body["refunded"].items()) or "0.00",
                "delivered": f"{body['delivered']['amount']} AZN",
            },
        )
        rows_table("Mismatches", body["mismatches"])

    emit(as_json, body, human)
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


@fx_app.command("set")
def fx_set(currency: str, rate: str, as_json: JsonOption = False) -> None:
    """Set CURRENCY's rate: how many AZN one unit buys (e.g. `topup fx set USD 1.70`)."""
    with application_for_command() as application:
        body = serialise.fx_rate(
            quotes.set_rate(application.uow(), application.clock, currency=currency.upper(), rate=rate, set_by="cli")
        )
    emit(as_json, body, lambda: pairs("Exchange rate set", body))


@fx_app.command("list")
def fx_list(as_json: JsonOption = False) -> None:
    """Exchange rates in force."""
    with application_for_command() as application:
        items = [serialise.fx_rate(r) for r in quotes.current_rates(application.uow())]
    emit(as_json, {"items": items}, lambda: rows_table("Exchange rates", items))


@app.command("quote")
def quote_command(
    number: str,
    amount: Annotated[str | None, typer.Option(help="Top-up amount in AZN")] = None,
    bundle: Annotated[str | None, typer.Option(help="Bundle code")] = None,
    currency: str = "AZN",
    as_json: JsonOption = False,
) -> None:
    """Price a top-up (--amount) or a bundle (--bundle) for NUMBER, in AZN or another --currency."""
    if (amount is None) == (bundle is None):
        errors.print("[red]error[/red] give either --amount or --bundle.")
        raise typer.Exit(EXIT_INVALID)
    with application_for_command() as application:
        result = quotes.quote(
            application.uow(),
            application.clock,
            number=number,
            product_type=ProductType.TOPUP if amount is not None else ProductType.BUNDLE,
            amount_qepik=parse_amount(amount) if amount is not None else None,
            bundle_code=bundle,
            currency=currency.upper(),
            lock_seconds=application.settings.quote_lock_seconds,
        )
        body = serialise.quote(result)
    emit(
        as_json,
        body,
        lambda: pairs(
            f"Quote {body['id']}",
            {
                **body,
                "charge": body["charge"]["amount"] + " " + body["charge"]["currency"],
                "price": body["price"]["amount"] + " AZN",
                "vat": body["vat"]["amount"] + " AZN",
            },
        ),
    )


@demo_app.command("seed")
def demo_seed() -> None:
    """Add the demo data (once; running it again changes nothing): lines with a few days of use, a shop, a kiosk
    and scratch cards."""
    with application_for_command(clock=simulate.start_clock(demo.HISTORY_DAYS)) as application:
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("Seeding demo data", total=len(demo.DEMO_LINES))
            added = demo.seed(application, progress=lambda _number: progress.advance(task))
        console.print(f"Demo lines: {added} added, {len(demo.DEMO_LINES) - added} already there.")


def _bundle_table(items: list[dict[str, Any]]) -> None:
    rows = [
        {
            "code": b["code"],
            "name": b["names"]["en"],
            "price": f"{b['price']} AZN",
            "days": b["validity_days"],
            "data": f"{b['data_kb'] / 1_000_000:g} GB" if b["data_kb"] else "",
            "minutes": b["voice_seconds"] // 60 or "",
            "sms": b["sms"] or "",
        }
        for b in items
    ]
    rows_table("Bundles", rows)


def main() -> None:
    app()


def _charging_shown(answer: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in answer.items() if key != "charged_qepik"}
    shown["charged"] = format_amount(answer["charged_qepik"])
    return shown


@charging_app.command("open")
def charging_open(
    number: str,
    service: Annotated[str, typer.Option(help="data (KB), voice (seconds) or sms")] = "data",
    units: Annotated[int, typer.Option(help="units requested")] = 10_000,
    roaming: bool = False,
    as_json: JsonOption = False,
) -> None:
    """Open a charging session for NUMBER: reserve --units of --service (request 0)."""
    with application_for_command() as application:
        body = _charging_shown(
            charging.open_session(
                application.uow(),
                application.charging,
                number=number,
                service=charging.parse_service(service),
                requested=units,
                roaming=roaming,
            )
        )
    emit(as_json, body, lambda: pairs("Charging session", body))


@charging_app.command("update")
def charging_update(
    session_id: str,
    request: Annotated[int, typer.Option(help="the request number: 1, then one more each time")],
    used: Annotated[int, typer.Option(help="units used since the last report")],
    more: Annotated[int, typer.Option(help="units to reserve in addition")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Report usage of SESSION_ID and ask for more."""
    with application_for_command() as application:
        body = _charging_shown(
            charging.update_session(
                application.uow(),
                application.charging,
                session_id=session_id,
                request_number=request,
                used=used,
                requested=more,
            )
        )
    emit(as_json, body, lambda: pairs("Charging session", body))


@charging_app.command("end")
def charging_end(
    session_id: str,
    request: Annotated[int, typer.Option(help="the request number")],
    used: Annotated[int, typer.Option(help="units used since the last report")],
    as_json: JsonOption = False,
) -> None:
    """End SESSION_ID: charge what was used, release the rest."""
    with application_for_command() as application:
        body = _charging_shown(
            charging.terminate_session(
                application.uow(), application.charging, session_id=session_id, request_number=request, used=used
            )
        )
    emit(as_json, body, lambda: pairs("Charging session", body))


@charging_app.command("sms")
def charging_sms(number: str, as_json: JsonOption = False) -> None:
    """Charge one SMS sent from NUMBER."""
    with application_for_command() as application:
        body = _charging_shown(charging.charge_event(application.uow(), application.charging, number=number))
    emit(as_json, body, lambda: pairs("SMS charged", body))


@charging_app.command("show")
def charging_show(session_id: str, as_json: JsonOption = False) -> None:
    """A charging session: granted, used, charged."""
    with application_for_command() as application:
        body = _charging_shown(charging.get_session(application.uow(), session_id=session_id))
    emit(as_json, body, lambda: pairs("Charging session", body))


@app.command("usage")
def usage_command(
    number: str,
    days: Annotated[int, typer.Option(help="how many days back, today included")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Data, minutes and SMS NUMBER used, and what it was charged, per Baku day."""
    with application_for_command() as application:
        used = charging.usage_by_day(application.uow(), application.clock, number=number, days=days)
    items = [
        {
            "date": day.day.isoformat(),
            "data_kb": day.data_kb,
            "voice_seconds": day.voice_seconds,
            "sms": day.sms,
            "charged": format_amount(day.charged_qepik),
        }
        for day in used
    ]
    emit(as_json, {"items": items}, lambda: rows_table(f"Usage of {number}", items))


@app.command("inbox")
def inbox_command(
    number: Annotated[str | None, typer.Argument(help="only this line's")] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Notifications as subscribers get them, in their language (the development inbox)."""
    with application_for_command() as application:
        items = [serialise.notification(n) for n in notifications.inbox(application.uow(), number=number, limit=limit)]
    rows = [{key: item[key] for key in ("created_at", "msisdn", "kind", "text")} for item in items]
    emit(as_json, {"items": items}, lambda: rows_table("Inbox", rows))


@app.command("simulate")
def simulate_command(
    lines_count: Annotated[int, typer.Option("--lines", help="simulation lines (+994 50/55/70 9xxxxxx)")] = 20,
    days: Annotated[int, typer.Option(help="days of traffic, ending now")] = 7,
    seed: Annotated[int, typer.Option(help="the same seed plays the same traffic")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Play DAYS days of data sessions, calls and SMS for LINES lines through the charging service, with the
    worker's jobs each midnight: balances drain, bundles expire and renew, notifications reach the inbox."""
    if not 1 <= lines_count <= simulate.LINES_MAX or not 1 <= days <= simulate.DAYS_MAX:
        errors.print(f"[red]error[/red] --lines must be 1..{simulate.LINES_MAX} and --days 1..{simulate.DAYS_MAX}.")
        raise typer.Exit(EXIT_INVALID)
    with (
        application_for_command(clock=simulate.start_clock(days)) as application,
        Progress(console=errors, transient=True) as progress,
    ):
        task = progress.add_task(f"Simulating {days} days of {lines_count} lines", total=days)
        report = simulate.simulate(
            application,
            line_count=lines_count,
            days=days,
            seed=seed,
            progress=lambda done, _total: progress.update(task, completed=done),
        )
    body = {
        "lines": report.lines,
        "days": report.days,
        "sessions": report.sessions,
        "data_mb": round(report.data_kb / 1000, 1),
        "voice_minutes": round(report.voice_seconds / 60, 1),
        "sms": report.sms,
        "charged": format_amount(report.charged_qepik),
        "refused_no_balance": report.refused_no_balance,
        "top_ups": report.top_ups,
        "bundles_expired": report.bundles_expired,
        "bundles_exhausted": report.bundles_exhausted,
        "renewals_tried": report.renewals_tried,
        "auto_recharges_tried": report.auto_recharges_tried,
        "notifications_sent": report.notifications_sent,
    }
    emit(as_json, body, lambda: pairs("Simulation", body))
