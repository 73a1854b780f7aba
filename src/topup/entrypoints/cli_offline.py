"""`topup agents`, `topup kiosks`, `topup vouchers` and `topup ussd`: the offline channels from the command line
(staff's side: registry, floats, reports, card batches, encashment; and a USSD session played in the terminal)."""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from topup.adapters.reports.agent_reports import daily_report_csv, daily_report_pdf
from topup.adapters.voucher_export import read_export, write_export
from topup.domain.agents import AgentKind, AgentRole, AgentStatus, parse_percent
from topup.domain.calendar import baku_date
from topup.domain.money import format_amount, parse_amount
from topup.domain.vouchers import VoucherState
from topup.entrypoints.api.routes.agents import agent_json, movement_json, position_json, sale_json, user_json
from topup.entrypoints.api.routes.kiosks import collection_json
from topup.entrypoints.api.routes.vouchers import voucher_json
from topup.entrypoints.cli_support import (
    EXIT_INVALID,
    JsonOption,
    application_for_command,
    console,
    emit,
    errors,
    pairs,
    rows_table,
)
from topup.services import agent_reports, agent_users, agents, kiosks, ussd, vouchers
from topup.services.kiosk_terminal import Terminal

agents_app = typer.Typer(
    help="Retail agents: registry, float, credit, commission, till users, reports.", no_args_is_help=True
)
kiosks_app = typer.Typer(help="Cash kiosks: what the box holds, encashment.", no_args_is_help=True)
vouchers_app = typer.Typer(
    help="Scratch-card vouchers: batches, distribution, status, redemption.", no_args_is_help=True
)
ussd_app = typer.Typer(help="Play a USSD session in the terminal, as a phone would.", no_args_is_help=True)
PASSPHRASE_VARIABLE = "TOPUP_VOUCHER_EXPORT_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
Money = Annotated[str, typer.Argument(help="AZN, e.g. 500.00")]


def _amount(text: str) -> int:
    return 0 if text.strip() in ("0", "0.00") else parse_amount(text)


# --- agents -------------------------------------------------------------------------------------------------------


@agents_app.command("add")
def agents_add(
    name: str,
    kind: Annotated[AgentKind, typer.Option()],
    licence: Annotated[str, typer.Option(help="The licence number")],
    address: Annotated[str, typer.Option()],
    verified: Annotated[bool, typer.Option("--verified/--unverified")] = False,
    as_json: JsonOption = False,
) -> None:
    """Register an agent (a shop, supermarket, post office, bank branch, street vendor, operator store or kiosk)."""
    with application_for_command() as application:
        agent = agents.register_agent(
            application.uow(),
            application.clock,
            name=name,
            kind=kind,
            licence_number=licence,
            address=address,
            verified=verified,
        )
    body = agent_json(agent)
    emit(as_json, body, lambda: console.print(f"Agent {agent.id} registered: {agent.name} ({agent.kind.value})."))


@agents_app.command("list")
def agents_list(kind: Annotated[AgentKind | None, typer.Option()] = None, as_json: JsonOption = False) -> None:
    """Agents, by name."""
    with application_for_command() as application:
        items = [agent_json(a) for a in agents.list_agents(application.uow(), kind=kind, limit=500)]
    rows = [{k: item[k] for k in ("id", "name", "kind", "licence_number", "status", "verified")} for item in items]
    emit(as_json, {"items": items}, lambda: rows_table("Agents", rows))


@agents_app.command("show")
def agents_show(agent_id: str, as_json: JsonOption = False) -> None:
    """An agent with its float, credit and commission."""
    with application_for_command() as application:
        body = position_json(agents.position(application.uow(), agent_id=agent_id))
    emit(as_json, body, lambda: pairs(body["name"], _flat(body)))


@agents_app.command("set")
def agents_set(
    agent_id: str,
    status: Annotated[AgentStatus | None, typer.Option()] = None,
    verified: Annotated[bool | None, typer.Option("--verified/--unverified")] = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend, reactivate or close an agent, or mark it verified."""
    with application_for_command() as application:
        agent = agents.change_agent(
            application.uow(), application.clock, agent_id=agent_id, status=status, verified=verified
        )
    body = agent_json(agent)
    emit(as_json, body, lambda: pairs(body["name"], _flat(body)))


@agents_app.command("deposit")
def agents_deposit(
    agent_id: str, amount: Money, note: Annotated[str | None, typer.Option()] = None, as_json: JsonOption = False
) -> None:
    """Record money the agent paid in (it first pays back credit used, then fills the float)."""
    with application_for_command() as application:
        movement = agents.deposit(
            application.uow(), application.clock, agent_id=agent_id, amount_qepik=parse_amount(amount), note=note
        )
    body = movement_json(movement)
    emit(as_json, body, lambda: console.print(f"Deposit recorded; float {body['float_after']['amount']} AZN."))


@agents_app.command("credit-limit")
def agents_credit_limit(agent_id: str, amount: Money, as_json: JsonOption = False) -> None:
    """Set the credit the agent may sell on (0 for none)."""
    with application_for_command() as application:
        agents.set_credit_limit(
            application.uow(), application.clock, agent_id=agent_id, credit_limit_qepik=_amount(amount)
        )
        body = position_json(agents.position(application.uow(), agent_id=agent_id))
    emit(as_json, body, lambda: pairs(body["name"], _flat(body)))


@agents_app.command("payout")
def agents_payout(
    agent_id: str,
    amount: Annotated[str | None, typer.Option(help="AZN; all earned by default")] = None,
    as_json: JsonOption = False,
) -> None:
    """Pay the agent its commission."""
    with application_for_command() as application:
        movement = agents.pay_out_commission(
            application.uow(),
            application.clock,
            agent_id=agent_id,
            amount_qepik=parse_amount(amount) if amount else None,
        )
    body = movement_json(movement)
    emit(as_json, body, lambda: console.print(f"Paid out {format_amount(-movement.amount_qepik)} AZN."))


@agents_app.command("commission")
def agents_commission(kind: AgentKind, operator: str, percent: str, as_json: JsonOption = False) -> None:
    """Set the commission of a kind of agent for an operator, in percent (e.g. shop azercell 2.50)."""
    with application_for_command() as application:
        rate = parse_percent(percent)
        agents.set_commission_rate(
            application.uow(), application.clock, kind=kind, operator=operator, rate_basis_points=rate
        )
    body = {"agent_kind": kind.value, "operator": operator, "percent": format_amount(rate)}
    emit(
        as_json, body, lambda: console.print(f"Commission of {kind.value} agents for {operator}: {body['percent']} %.")
    )


@agents_app.command("add-user")
def agents_add_user(
    agent_id: str,
    username: str,
    role: Annotated[AgentRole, typer.Option()] = AgentRole.CASHIER,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
    as_json: JsonOption = False,
) -> None:
    """A person at the agent's till, who signs in to the POS page."""
    with application_for_command() as application:
        user = agent_users.add_user(
            application.uow(),
            application.agent_access,
            agent_id=agent_id,
            username=username,
            password=password,
            role=role,
        )
    body = user_json(user)
    emit(as_json, body, lambda: console.print(f"Till user {user.username} ({user.role.value}) added."))


@agents_app.command("sell")
def agents_sell(
    agent_id: str,
    number: str,
    amount: Annotated[str | None, typer.Option(help="A top-up of this many AZN")] = None,
    bundle: Annotated[str | None, typer.Option(help="Or a bundle's code")] = None,
    as_json: JsonOption = False,
) -> None:
    """Sell a top-up or a bundle for a customer's number from the agent's float."""
    if (amount is None) == (bundle is None):
        errors.print("[red]error[/red] give either --amount or --bundle.")
        raise typer.Exit(EXIT_INVALID)
    with application_for_command() as application:
        uow, clock, codes = application.uow(), application.clock, application.codes
        sale = (
            agents.sell_top_up(uow, clock, codes, agent_id=agent_id, number=number, amount_qepik=parse_amount(amount))
            if amount is not None
            else agents.sell_bundle(uow, clock, codes, agent_id=agent_id, number=number, bundle_code=bundle or "")
        )
        body = sale_json(sale, base_url=application.settings.public_base_url)
    emit(
        as_json,
        body,
        lambda: console.print(
            f"Sold {format_amount(sale.record.amount_qepik)} AZN to {sale.record.msisdn}; receipt code "
            f"{sale.record.verification_code}; float {body['float_after']['amount']} AZN."
        ),
    )


@agents_app.command("report")
def agents_report(
    agent_id: str,
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD, a Baku day (today by default)")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the report as CSV here")] = None,
    pdf_file: Annotated[Path | None, typer.Option("--pdf", help="Write the report as PDF here")] = None,
    language: Annotated[str, typer.Option(help="az, en or ru (the PDF)")] = "az",
    as_json: JsonOption = False,
) -> None:
    """The agent's end-of-day report: sales, commission, float movements."""
    with application_for_command() as application:
        wanted = date.fromisoformat(day) if day else baku_date(application.clock.now())
        report = agent_reports.daily_report(application.uow(), agent_id=agent_id, day=wanted)
    if csv_file is not None:
        csv_file.write_text(daily_report_csv(report), encoding="utf-8")
    if pdf_file is not None:
        pdf_file.write_bytes(daily_report_pdf(report, language=language))
    body = {
        "date": wanted.isoformat(),
        "sales": report.sales_count,
        "sales_amount": format_amount(report.sales_qepik),
        "commission": format_amount(report.commission_qepik),
        "deposits": format_amount(report.deposits_qepik),
        "opening_float": format_amount(report.opening.float_qepik),
        "closing_float": format_amount(report.closing.float_qepik),
        "movements": [movement_json(m) for m in report.movements],
    }
    emit(as_json, body, lambda: pairs(f"{report.agent.name}, {wanted.isoformat()}", body))


# --- kiosks -------------------------------------------------------------------------------------------------------


@kiosks_app.command("box")
def kiosks_box(kiosk_id: str, as_json: JsonOption = False) -> None:
    """What the kiosk's box should hold now (payments since the last collection; refused ones listed)."""
    with application_for_command() as application:
        found = kiosks.encashment(application.uow(), kiosk_id=kiosk_id)
    body = {
        "expected": format_amount(found.expected_qepik),
        "payments": len(found.payments),
        "refused": [
            {"local_id": p.local_id, "msisdn": p.msisdn, "inserted": format_amount(p.inserted_qepik)}
            for p in found.refused
        ],
    }
    emit(as_json, body, lambda: pairs(found.kiosk.name, body))


@kiosks_app.command("collect")
def kiosks_collect(
    kiosk_id: str,
    counted: Money,
    by: Annotated[str, typer.Option("--by", help="Who collected the cash")],
    note: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """Record an encashment: the box emptied and counted (the difference to the expected amount is recorded)."""
    with application_for_command() as application:
        collection = kiosks.collect(
            application.uow(),
            application.clock,
            kiosk_id=kiosk_id,
            counted_qepik=_amount(counted),
            collected_by=by,
            note=note,
        )
    body = collection_json(collection)
    emit(as_json, body, lambda: pairs("Encashment", _flat(body)))


@kiosks_app.command("collections")
def kiosks_collections(kiosk_id: str, as_json: JsonOption = False) -> None:
    """The kiosk's encashments, newest first."""
    with application_for_command() as application:
        items = [collection_json(c) for c in kiosks.collections(application.uow(), kiosk_id=kiosk_id)]
    rows = [
        {
            "at": c["collected_at"],
            "expected": c["expected"]["amount"],
            "counted": c["counted"]["amount"],
            "difference": c["difference"]["amount"],
            "payments": c["payments"],
            "by": c["collected_by"],
        }
        for c in items
    ]
    emit(as_json, {"items": items}, lambda: rows_table("Encashments", rows))


# --- vouchers -----------------------------------------------------------------------------------------------------


@vouchers_app.command("generate")
def vouchers_generate(
    operator: Annotated[str, typer.Option()],
    nominal: Annotated[str, typer.Option(help="AZN, e.g. 5.00")],
    count: Annotated[int, typer.Option(min=1, max=100_000)],
    out: Annotated[Path, typer.Option(help="The encrypted export for the card printer")],
    validity_days: Annotated[int, typer.Option(min=1, max=3650)] = 730,
    as_json: JsonOption = False,
) -> None:
    """Print a batch of scratch cards: the PINs go only into the encrypted file for the printer (the passphrase
    is asked for, or read from TOPUP_VOUCHER_EXPORT_PASSPHRASE)."""
    passphrase = os.environ.get(PASSPHRASE_VARIABLE) or typer.prompt(
        "Passphrase for the printer's file", hide_input=True, confirmation_prompt=True
    )
    if out.exists():
        errors.print(f"[red]error[/red] {out} exists: choose another file (the PINs are never written twice).")
        raise typer.Exit(EXIT_INVALID)
    with application_for_command() as application:
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("Generating cards", total=count)
            batch, printed = vouchers.generate(
                application.uow(),
                application.vouchers,
                operator=operator,
                nominal_qepik=parse_amount(nominal),
                count=count,
                actor="cli",
                validity_days=validity_days,
                progress=lambda done: progress.update(task, completed=done),
            )
        write_export(out, printed, passphrase)
    body = {
        "batch_id": batch.id,
        "count": batch.count,
        "operator": batch.operator,
        "nominal": format_amount(batch.nominal_qepik),
        "expires_at": batch.expires_at.isoformat(),
        "export": str(out),
    }
    emit(as_json, body, lambda: console.print(f"Batch {batch.id}: {batch.count} cards written encrypted to {out}."))


@vouchers_app.command("open-export")
def vouchers_open_export(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """The printer's side: decrypt an export and print its CSV (serial, pin, nominal, operator, expires)."""
    passphrase = os.environ.get(PASSPHRASE_VARIABLE) or typer.prompt("Passphrase", hide_input=True)
    with application_for_command():
        cards = read_export(file, passphrase)
    console.print("serial,pin,nominal,operator,expires_at", markup=False, highlight=False)
    for card in cards:
        fields = (card.serial, card.pin, format_amount(card.nominal_qepik), card.operator, card.expires_at.isoformat())
        console.print(",".join(fields), markup=False, highlight=False)


@vouchers_app.command("distribute")
def vouchers_distribute(batch: str, agent_id: str, as_json: JsonOption = False) -> None:
    """Hand a batch's printed cards to an agent."""
    with application_for_command() as application:
        serials = vouchers.serials_of_batch(application.uow(), batch_id=batch, state=VoucherState.GENERATED)
        moved = vouchers.distribute(
            application.uow(), application.clock, serials=serials, agent_id=agent_id, actor="cli"
        )
    emit(as_json, {"moved": len(moved)}, lambda: console.print(f"{len(moved)} cards distributed."))


@vouchers_app.command("activate")
def vouchers_activate(batch: str, as_json: JsonOption = False) -> None:
    """Put a batch's distributed cards on sale."""
    with application_for_command() as application:
        serials = vouchers.serials_of_batch(application.uow(), batch_id=batch, state=VoucherState.DISTRIBUTED)
        moved = vouchers.activate(application.uow(), application.clock, serials=serials, actor="cli")
    emit(as_json, {"moved": len(moved)}, lambda: console.print(f"{len(moved)} cards active."))


@vouchers_app.command("void")
def vouchers_void(serials: list[str], reason: Annotated[str, typer.Option()], as_json: JsonOption = False) -> None:
    """Withdraw cards that were not redeemed."""
    with application_for_command() as application:
        moved = vouchers.void(application.uow(), application.clock, serials=serials, actor="cli", reason=reason)
    emit(as_json, {"moved": len(moved)}, lambda: console.print(f"{len(moved)} cards void."))


@vouchers_app.command("status")
def vouchers_status(serial: str, as_json: JsonOption = False) -> None:
    """A card's state and history by its serial."""
    with application_for_command() as application:
        voucher, events = vouchers.status(application.uow(), serial=serial)
    body = voucher_json(voucher, events)

    def human() -> None:
        pairs(f"Card {serial}", _flat(body))
        rows_table("History", body["history"])

    emit(as_json, body, human)


@vouchers_app.command("redeem")
def vouchers_redeem(
    number: str, pin: Annotated[str, typer.Option(prompt=True, hide_input=True)], as_json: JsonOption = False
) -> None:
    """Top up NUMBER with a scratch card's PIN."""
    with application_for_command() as application:
        record = vouchers.redeem(application.uow(), application.vouchers, pin=pin, number=number, client="cli")
    body = {
        "transaction_id": record.id,
        "amount": format_amount(record.amount_qepik),
        "balance_after": format_amount(record.balance_after_qepik),
    }
    emit(as_json, body, lambda: console.print(f"Topped up {body['amount']} AZN; balance {body['balance_after']} AZN."))


# --- USSD ---------------------------------------------------------------------------------------------------------


@ussd_app.command("dial")
def ussd_dial(
    number: str,
    code: Annotated[str, typer.Argument(help='The code dialled, e.g. "*111#" or "*101*<PIN>#"')],
) -> None:
    """Dial a USSD code from NUMBER and answer the screens at the prompt, as a phone would."""
    session_id = f"cli-{uuid.uuid4().hex[:12]}"
    with application_for_command() as application:
        service, typed = ussd.split_dialled(application.uow(), number=number, dialled=code)
        while True:
            screen = ussd.answer(
                application.uow(),
                application.ussd,
                session_id=session_id,
                number=number,
                service_code=service,
                typed=typed,
            )
            console.print(screen.text, markup=False, highlight=False)
            if screen.ends:
                return
            reply = typer.prompt(">", default="", show_default=False).strip()
            typed = f"{typed}*{reply}" if typed else reply


def _flat(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (v["amount"] if isinstance(v, dict) and "amount" in v else v) for k, v in body.items()}


# --- the kiosk terminal ------------------------------------------------------------------------------------------

kiosk_app = typer.Typer(
    help="Run a kiosk terminal: its touch pages, durable queue and forwarder.", no_args_is_help=True
)


@kiosk_app.command("serve")
def kiosk_serve(
    server: Annotated[str, typer.Option(help="The Topup server's address, e.g. http://127.0.0.1:8000")],
    key: Annotated[str, typer.Option(envvar="TOPUP_KIOSK_KEY", help="The kiosk's API key (role kiosk)")],
    queue: Annotated[Path, typer.Option(help="The kiosk's durable store (an SQLite file)")] = Path("var/kiosk.db"),
    host: str = "127.0.0.1",
    port: int = 8100,
    forward_every: Annotated[float, typer.Option(help="Seconds between forwarding passes")] = 15.0,
) -> None:
    """Serve the kiosk's touch pages on this machine; payments are queued here and forwarded to the server."""
    import uvicorn

    from topup.entrypoints.kiosk.app import create_kiosk_app

    terminal = _terminal(server, key, queue)
    console.print(f"Kiosk pages on [bold]http://{host}:{port}[/bold]; queue {queue}; server {server}")
    uvicorn.run(
        create_kiosk_app(terminal, forward_every_seconds=forward_every), host=host, port=port, log_level="warning"
    )


@kiosk_app.command("forward")
def kiosk_forward(
    server: Annotated[str, typer.Option()],
    key: Annotated[str, typer.Option(envvar="TOPUP_KIOSK_KEY")],
    queue: Annotated[Path, typer.Option()] = Path("var/kiosk.db"),
) -> None:
    """One forwarding pass: send the queued payments now (for a technician, or a script)."""
    from topup.services import kiosk_terminal

    answered = kiosk_terminal.forward_pending(_terminal(server, key, queue))
    console.print(f"Payments answered by the server: {answered}.")


def _terminal(server: str, key: str, queue: Path) -> Terminal:
    from topup.adapters.clock import SystemClock
    from topup.adapters.kiosk.bill_acceptor import SimulatedBillAcceptor
    from topup.adapters.kiosk.server_client import HttpKioskServer
    from topup.adapters.kiosk.store import SqliteTerminalStore

    return Terminal(
        SystemClock(), SqliteTerminalStore(queue), SimulatedBillAcceptor(), HttpKioskServer(server, api_key=key)
    )
