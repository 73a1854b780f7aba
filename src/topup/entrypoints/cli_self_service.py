"""`topup cards`, `topup auto-recharge` and `topup notifications`: what a subscriber sets up, from the command
line (staff acting for them). The CLI acts as staff: it sees every card and rule of a line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topup.domain.auto_recharge import RuleKind
from topup.domain.money import parse_amount
from topup.entrypoints.api import serialise
from topup.entrypoints.cli_support import JsonOption, application_for_command, console, emit, pairs, rows_table
from topup.services import auto_recharge, notifications, payment_methods
from topup.services.payments import CardDetails

CLI_SCOPE = "cli"
cards_app = typer.Typer(help="Saved cards (the acquirer keeps them; Topup keeps a token).", no_args_is_help=True)
auto_recharge_app = typer.Typer(help="Auto-recharge from a saved card.", no_args_is_help=True)
notifications_app = typer.Typer(help="How a line is told: SMS, e-mail, webhook.", no_args_is_help=True)


@cards_app.command("add")
def cards_add(
    number: str,
    card_number: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Asked for when not given.")],
    expiry: Annotated[str, typer.Option(help="MM/YYYY", prompt=True)],
    cvc: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    as_json: JsonOption = False,
) -> None:
    """Save a card for NUMBER (its auto-recharges and orders can then pay with it)."""
    month, year = _expiry(expiry)
    with application_for_command() as application:
        card = payment_methods.save_card(
            application.uow(),
            application.saga,
            scope=CLI_SCOPE,
            number=number,
            card=CardDetails(card_number, month, year, cvc),
        )
    body = serialise.saved_card(card)
    emit(
        as_json,
        body,
        lambda: console.print(
            f"Saved {body['display']} ({body['expiry_month']:02d}/{body['expiry_year']}) as {card.id}"
        ),
    )


@cards_app.command("list")
def cards_list(number: str, as_json: JsonOption = False) -> None:
    """The saved cards of NUMBER."""
    with application_for_command() as application:
        items = [
            serialise.saved_card(c) for c in payment_methods.list_cards(application.uow(), number=number, scope=None)
        ]
    rows = [
        {"id": c["id"], "card": c["display"], "expires": f"{c['expiry_month']:02d}/{c['expiry_year']}"} for c in items
    ]
    emit(as_json, {"items": items}, lambda: rows_table("Saved cards", rows))


@cards_app.command("remove")
def cards_remove(number: str, card_id: str, as_json: JsonOption = False) -> None:
    """Remove a saved card of NUMBER, and the auto-recharges that pay with it."""
    with application_for_command() as application:
        card = payment_methods.remove_card(
            application.uow(), application.saga, number=number, method_id=card_id, scope=None
        )
    emit(as_json, {"id": card.id, "removed": True}, lambda: console.print(f"Removed {card.summary.display}."))


@auto_recharge_app.command("show")
def auto_recharge_show(number: str, as_json: JsonOption = False) -> None:
    """The auto-recharge rules of NUMBER and how they last ran."""
    with application_for_command() as application:
        items = [
            serialise.auto_recharge(view)
            for view in auto_recharge.rules_of(application.uow(), application.saga, number=number, scope=None)
        ]
    emit(as_json, {"items": items}, lambda: rows_table("Auto-recharge", [_rule_row(item) for item in items]))


@auto_recharge_app.command("threshold")
def auto_recharge_threshold(
    number: str,
    below: Annotated[str, typer.Option(help="Top up when the balance falls below this (AZN).")],
    amount: Annotated[str, typer.Option(help="AZN to top up each time.")],
    card: Annotated[str, typer.Option(help="The saved card's id (topup cards list).")],
    monthly_max: Annotated[int, typer.Option(help="At most this many top-ups a month.")] = 3,
    as_json: JsonOption = False,
) -> None:
    """When the balance of NUMBER falls below --below, top up --amount from --card."""
    with application_for_command() as application:
        auto_recharge.set_threshold(
            application.uow(),
            application.saga,
            scope=CLI_SCOPE,
            card_scope=None,
            number=number,
            threshold_qepik=parse_amount(below),
            amount_qepik=parse_amount(amount),
            monthly_max=monthly_max,
            payment_method_id=card,
        )
    auto_recharge_show(number, as_json=as_json)


@auto_recharge_app.command("schedule")
def auto_recharge_schedule(
    number: str,
    day: Annotated[int, typer.Option(help="Day of the month, 1-31 (the month's last day when shorter).")],
    amount: Annotated[str, typer.Option(help="AZN to top up.")],
    card: Annotated[str, typer.Option(help="The saved card's id (topup cards list).")],
    as_json: JsonOption = False,
) -> None:
    """Top up NUMBER by --amount from --card on --day of every month, at 10:00 Baku time."""
    with application_for_command() as application:
        auto_recharge.set_schedule(
            application.uow(),
            application.saga,
            scope=CLI_SCOPE,
            card_scope=None,
            number=number,
            day_of_month=day,
            amount_qepik=parse_amount(amount),
            payment_method_id=card,
        )
    auto_recharge_show(number, as_json=as_json)


@auto_recharge_app.command("remove")
def auto_recharge_remove(number: str, kind: RuleKind, as_json: JsonOption = False) -> None:
    """Turn off the threshold or the schedule rule of NUMBER."""
    with application_for_command() as application:
        auto_recharge.remove(application.uow(), application.saga, number=number, kind=kind, scope=None)
    emit(as_json, {"kind": kind.value, "removed": True}, lambda: console.print(f"The {kind.value} rule is off."))


@notifications_app.command("show")
def notifications_show(number: str, as_json: JsonOption = False) -> None:
    """How NUMBER is told."""
    with application_for_command() as application:
        body = serialise.notification_settings(notifications.settings_of(application.uow(), number=number))
    emit(as_json, body, lambda: pairs(f"Notifications of {number}", {**body, "muted": ", ".join(body["muted"])}))


@notifications_app.command("set")
def notifications_set(
    number: str,
    sms: Annotated[bool, typer.Option("--sms/--no-sms")] = True,
    email: Annotated[str | None, typer.Option(help="An e-mail address to tell as well.")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="An https:// address to POST each notification to.")] = None,
    mute: Annotated[list[str] | None, typer.Option(help="A kind to keep quiet (repeat for several).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the notification settings of NUMBER (a new webhook's signing secret is printed once)."""
    with application_for_command() as application:
        settings = notifications.change_settings(
            application.uow(),
            application.clock,
            number=number,
            sms=sms,
            email_address=email,
            webhook_url=webhook_url,
            muted=mute or [],
        )
    body = serialise.notification_settings(settings, show_secret=True)
    emit(as_json, body, lambda: pairs(f"Notifications of {number}", {**body, "muted": ", ".join(body["muted"])}))


def _expiry(value: str) -> tuple[int, int]:
    month, _, year = value.partition("/")
    if not (month.isdigit() and year.isdigit()):
        raise typer.BadParameter("expiry is MM/YYYY, such as 12/2030")
    return int(month), int(year)


def _rule_row(item: dict[str, Any]) -> dict[str, Any]:
    when = f"below {item['threshold']['amount']}" if item["kind"] == "threshold" else f"day {item['day_of_month']}"
    card = item["payment_method"]["display"] if item["payment_method"] else ""
    last = item["last_run"]["outcome"] if item["last_run"] else ""
    return {
        "kind": item["kind"],
        "when": when,
        "amount": item["amount"]["amount"],
        "card": card,
        "state": item["state"],
        "next run": item["next_run_at"] or "",
        "this month": item["runs_this_month"],
        "last": last,
    }


__all__ = ["auto_recharge_app", "cards_app", "notifications_app"]
