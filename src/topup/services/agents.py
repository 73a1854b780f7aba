"""Retail agents (see `topup.domain.agents`): registry, float and credit, commission, sales, statements.

Every movement of an agent's money is a posting in the ledger (the agent's float, credit and commission are
tracked accounts that can never go below zero) and a line of its statement (`agent_movements`), written in
the same transaction. A sale locks the customer's line first and then the agent's row, so two tills of one
agent selling at once queue on the agent and each sees the other's effect on the float.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from topup.domain.agents import (
    Agent,
    AgentExists,
    AgentKind,
    AgentNotFound,
    AgentStatus,
    CreditLimitBelowUse,
    FloatPosition,
    Movement,
    MovementKind,
    NotAKiosk,
    check_agent_fields,
    check_commission_rate,
    commission_of,
)
from topup.domain.calendar import baku_date
from topup.domain.errors import DomainError, ErrorKind, InvalidInput
from topup.domain.history import TransactionRecord
from topup.domain.ledger import AccountKind, Transfer, Unit
from topup.domain.numbers import parse_msisdn
from topup.services import bundles, topups
from topup.services.lines import require_line
from topup.services.ports import Clock, ReceiptCodes, UnitOfWork

AGENT_CHANNEL = "agent"


class SaleNotFound(DomainError):
    code = "sale_not_found"
    kind = ErrorKind.NOT_FOUND


DEPOSITS_ACCOUNT = "agent_deposits"  # money agents paid in (a bank transfer staff recorded)
CREDIT_LINES_ACCOUNT = "agent_credit_lines"  # credit the platform extends to agents
COMMISSION_ACCOUNT = "commission_expense:{operator}"
PAYOUTS_ACCOUNT = "agent_commission_payouts"
LIST_LIMIT_MAX = 500
NOTE_LENGTH_MAX = 200


@dataclass(frozen=True, slots=True)
class AgentPosition:
    agent: Agent
    position: FloatPosition
    commission_qepik: int


@dataclass(frozen=True, slots=True)
class Sale:
    record: TransactionRecord  # the customer's top-up or bundle purchase (its receipt)
    movement: Movement
    commission_qepik: int
    position: FloatPosition


# --- registry ---------------------------------------------------------------------------------------------------


def register_agent(
    uow: UnitOfWork,
    clock: Clock,
    *,
    name: str,
    kind: AgentKind,
    licence_number: str,
    address: str,
    verified: bool = False,
    agent_id: str | None = None,
) -> Agent:
    """`agent_id` lets the caller choose the id (the demo's agents have fixed ones)."""
    name, licence_number, address = check_agent_fields(name=name, licence_number=licence_number, address=address)
    now = clock.now()
    with uow:
        if uow.agents.licence_taken(licence_number):
            raise AgentExists("An agent with this licence number is registered already.", licence=licence_number)
        accounts = [
            uow.ledger.open_account(kind=AccountKind.AGENT, unit=Unit.QEPIK, msisdn=None, now=now) for _ in range(3)
        ]
        agent = Agent(
            id=agent_id or uuid.uuid4().hex,
            name=name,
            kind=kind,
            licence_number=licence_number,
            address=address,
            verified=verified,
            status=AgentStatus.ACTIVE,
            credit_limit_qepik=0,
            float_account_id=accounts[0],
            credit_account_id=accounts[1],
            commission_account_id=accounts[2],
            created_at=now,
            updated_at=now,
        )
        uow.agents.add(agent)
        uow.commit()
    return agent


def get_agent(uow: UnitOfWork, *, agent_id: str) -> Agent:
    with uow:
        return require_agent(uow, agent_id)


def list_agents(uow: UnitOfWork, *, kind: AgentKind | None = None, limit: int = 100) -> list[Agent]:
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidInput(f"limit must be 1 to {LIST_LIMIT_MAX}.", field="limit")
    with uow:
        return uow.agents.listed(kind=kind.value if kind else None, limit=limit)


def change_agent(
    uow: UnitOfWork,
    clock: Clock,
    *,
    agent_id: str,
    status: AgentStatus | None = None,
    verified: bool | None = None,
) -> Agent:
    """Staff: suspend, reactivate or close an agent, or mark it verified."""
    with uow:
        agent = require_agent(uow, agent_id, for_update=True)
        changed = replace(
            agent,
            status=status or agent.status,
            verified=agent.verified if verified is None else verified,
            updated_at=clock.now(),
        )
        uow.agents.save(changed)
        uow.commit()
    return changed


# --- money --------------------------------------------------------------------------------------------------------


def position(uow: UnitOfWork, *, agent_id: str) -> AgentPosition:
    with uow:
        agent = require_agent(uow, agent_id)
        return position_of(uow, agent)


def deposit(uow: UnitOfWork, clock: Clock, *, agent_id: str, amount_qepik: int, note: str | None = None) -> Movement:
    """Staff record money the agent paid in: it first pays back credit used, then fills the float."""
    with uow:
        agent = require_agent(uow, agent_id, for_update=True)
        held = position_of(uow, agent).position
        repay, into_float = held.split_deposit(amount_qepik)
        source = uow.ledger.system_account(DEPOSITS_ACCOUNT, Unit.QEPIK)
        transfers = []
        if repay:
            transfers.append(Transfer(source, agent.credit_account_id, repay, Unit.QEPIK))
        if into_float:
            transfers.append(Transfer(source, agent.float_account_id, into_float, Unit.QEPIK))
        movement = record_movement(uow, clock, agent, MovementKind.DEPOSIT, amount_qepik, transfers, note=_note(note))
        uow.commit()
    return movement


def set_credit_limit(uow: UnitOfWork, clock: Clock, *, agent_id: str, credit_limit_qepik: int) -> Movement:
    """Staff change how much credit the agent may sell on; lowering it below what is used now is refused."""
    if credit_limit_qepik < 0:
        raise InvalidInput("A credit limit cannot be negative.", field="credit_limit")
    with uow:
        agent = require_agent(uow, agent_id, for_update=True)
        held = position_of(uow, agent).position
        change = credit_limit_qepik - agent.credit_limit_qepik
        lines = uow.ledger.system_account(CREDIT_LINES_ACCOUNT, Unit.QEPIK)
        if change < 0 and -change > held.credit_available_qepik:
            raise CreditLimitBelowUse(
                "The agent uses more credit than this limit allows; it must pay back first.",
                credit_used=held.credit_used_qepik,
            )
        transfers = []
        if change > 0:
            transfers.append(Transfer(lines, agent.credit_account_id, change, Unit.QEPIK))
        elif change < 0:
            transfers.append(Transfer(agent.credit_account_id, lines, -change, Unit.QEPIK))
        updated = replace(agent, credit_limit_qepik=credit_limit_qepik, updated_at=clock.now())
        uow.agents.save(updated)
        movement = record_movement(uow, clock, updated, MovementKind.CREDIT_LIMIT, change, transfers)
        uow.commit()
    return movement


def pay_out_commission(uow: UnitOfWork, clock: Clock, *, agent_id: str, amount_qepik: int | None = None) -> Movement:
    """Staff pay the agent its commission (all of it unless `amount_qepik` says less)."""
    with uow:
        agent = require_agent(uow, agent_id, for_update=True)
        earned = position_of(uow, agent).commission_qepik
        amount = earned if amount_qepik is None else amount_qepik
        if not 0 < amount <= earned:
            raise InvalidInput("The payout must be more than zero and at most the commission earned.", field="amount")
        payouts = uow.ledger.system_account(PAYOUTS_ACCOUNT, Unit.QEPIK)
        transfers = [Transfer(agent.commission_account_id, payouts, amount, Unit.QEPIK)]
        movement = record_movement(uow, clock, agent, MovementKind.COMMISSION_PAYOUT, -amount, transfers)
        uow.commit()
    return movement


def set_commission_rate(
    uow: UnitOfWork, clock: Clock, *, kind: AgentKind, operator: str, rate_basis_points: int
) -> None:
    check_commission_rate(rate_basis_points)
    with uow:
        uow.catalogue.current().operator(operator)  # an operator the catalogue knows
        uow.agents.set_commission_rate(kind, operator, rate_basis_points, now=clock.now())
        uow.commit()


def commission_rates(uow: UnitOfWork) -> list[tuple[AgentKind, str, int]]:
    with uow:
        return uow.agents.commission_rates()


# --- sales --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SalePreview:
    """What a till shows before the cashier confirms: every check of the sale done, nothing moved."""

    msisdn: str
    national: str
    operator: str
    product: str  # "topup" or the bundle's code
    amount_qepik: int
    commission_qepik: int
    spendable_after_qepik: int


def preview_sale(
    uow: UnitOfWork,
    clock: Clock,
    *,
    agent_id: str,
    number: str,
    amount_qepik: int | None = None,
    bundle_code: str | None = None,
) -> SalePreview:
    """Check a sale as `sell_top_up` / `sell_bundle` would, without making it."""
    msisdn = parse_msisdn(number)
    now = clock.now()
    with uow:
        line = require_line(uow, msisdn)
        agent = require_agent(uow, agent_id)
        agent.ensure_may_sell()
        catalogue = uow.catalogue.current()
        if bundle_code is not None:
            bundle = catalogue.bundle(bundle_code, operator=line.operator)
            same_active = any(view.bundle_code == bundle.code for view in uow.ledger.buckets(msisdn, now=now))
            line.plan_bundle_purchase(bundle, now=now, today=baku_date(now), vat_bp=0, same_bundle_active=same_active)
            amount, product = bundle.price_qepik, bundle.code
        elif amount_qepik is not None:
            line.plan_top_up(catalogue.operator(line.operator), amount_qepik, today=baku_date(now), vat_bp=0)
            amount, product = amount_qepik, "topup"
        else:
            raise InvalidInput("Choose an amount or a bundle.", field="product")
        held = position_of(uow, agent).position
        held.split_sale(amount)
        rate = uow.agents.commission_rate(agent.kind, line.operator)
    return SalePreview(
        msisdn.e164,
        msisdn.national,
        line.operator,
        product,
        amount,
        commission_of(amount, rate),
        held.spendable_qepik - amount,
    )


def sell_top_up(
    uow: UnitOfWork,
    clock: Clock,
    codes: ReceiptCodes,
    *,
    agent_id: str,
    number: str,
    amount_qepik: int,
    user_id: str | None = None,
) -> Sale:
    """The agent took `amount_qepik` in cash and tops up the customer's line from its float (and credit)."""
    msisdn = parse_msisdn(number)
    with uow:
        require_line(uow, msisdn, for_update=True)
        agent = _seller(uow, agent_id)
        _cover(uow, clock, agent, amount_qepik)
        record = topups.top_up(
            uow,
            clock,
            codes,
            number=msisdn.e164,
            amount_qepik=amount_qepik,
            channel=AGENT_CHANNEL,
            funding_account_id=agent.float_account_id,
        )
        sale = _record_sale(uow, clock, agent, record, product="topup", user_id=user_id)
        uow.commit()
    return sale


def sell_bundle(
    uow: UnitOfWork,
    clock: Clock,
    codes: ReceiptCodes,
    *,
    agent_id: str,
    number: str,
    bundle_code: str,
    user_id: str | None = None,
) -> Sale:
    """The agent took the bundle's price in cash and buys it for the customer's line from its float."""
    msisdn = parse_msisdn(number)
    with uow:
        line = require_line(uow, msisdn, for_update=True)
        agent = _seller(uow, agent_id)
        price = uow.catalogue.current().bundle(bundle_code, operator=line.operator).price_qepik
        _cover(uow, clock, agent, price)
        record = bundles.buy_bundle(
            uow,
            clock,
            codes,
            number=msisdn.e164,
            bundle_code=bundle_code,
            channel=AGENT_CHANNEL,
            payer_account_id=agent.float_account_id,
        )
        sale = _record_sale(uow, clock, agent, record, product=bundle_code, user_id=user_id)
        uow.commit()
    return sale


def _seller(uow: UnitOfWork, agent_id: str) -> Agent:
    agent = require_agent(uow, agent_id, for_update=True)  # after the line's lock: every sale takes them in this order
    agent.ensure_may_sell()
    if agent.is_kiosk:
        raise NotAKiosk("A kiosk sells through its kiosk payments, not from a float.", agent_id=agent.id)
    return agent


def _cover(uow: UnitOfWork, clock: Clock, agent: Agent, amount_qepik: int) -> None:
    """Move what the float lacks from credit into the float, so the sale can be paid from the float alone."""
    _, from_credit = position_of(uow, agent).position.split_sale(amount_qepik)
    if from_credit:
        transfers = [Transfer(agent.credit_account_id, agent.float_account_id, from_credit, Unit.QEPIK)]
        uow.ledger.post_movement(uuid.uuid4().hex, transfers, msisdn=None, created_at=clock.now())


def _record_sale(
    uow: UnitOfWork, clock: Clock, agent: Agent, record: TransactionRecord, *, product: str, user_id: str | None
) -> Sale:
    rate = uow.agents.commission_rate(agent.kind, record.operator)
    commission = commission_of(record.amount_qepik, rate)
    sale = record_movement(
        uow,
        clock,
        agent,
        MovementKind.SALE,
        -record.amount_qepik,
        [],
        msisdn=record.msisdn,
        transaction_id=record.id,
        operator=record.operator,
        product=product,
        user_id=user_id,
    )
    if commission:
        expense = uow.ledger.system_account(COMMISSION_ACCOUNT.format(operator=record.operator), Unit.QEPIK)
        transfers = [Transfer(expense, agent.commission_account_id, commission, Unit.QEPIK)]
        record_movement(
            uow,
            clock,
            agent,
            MovementKind.COMMISSION,
            commission,
            transfers,
            transaction_id=record.id,
            operator=record.operator,
            product=product,
            user_id=user_id,
        )
    return Sale(record, sale, commission, position_of(uow, agent).position)


# --- statements ---------------------------------------------------------------------------------------------------


def statement(
    uow: UnitOfWork,
    *,
    agent_id: str,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 1000,
) -> list[Movement]:
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be 1 to 10000.", field="limit")
    with uow:
        require_agent(uow, agent_id)
        return uow.agents.movements(agent_id, created_from=created_from, created_to=created_to, limit=limit)


def sale_receipt(uow: UnitOfWork, *, agent_id: str, transaction_id: str) -> tuple[Movement, Agent]:
    """A sale this agent made (and the agent), for its receipt; another agent's sale does not exist here."""
    with uow:
        agent = require_agent(uow, agent_id)
        sale = uow.agents.sale(agent_id, transaction_id) if transaction_id.isalnum() else None
    if sale is None:
        raise SaleNotFound("This agent made no sale with this id.", transaction_id=transaction_id[:64])
    return sale, agent


def opening(uow: UnitOfWork, *, agent_id: str, moment: datetime) -> FloatPosition:
    """The float and credit as they stood at `moment` (from the last movement before it)."""
    with uow:
        agent = require_agent(uow, agent_id)
        last = uow.agents.last_movement_before(agent_id, moment)
    if last is None:
        return FloatPosition(0, 0, 0)
    return FloatPosition(last.float_after_qepik, last.credit_after_qepik, agent.credit_limit_qepik)


# --- helpers ------------------------------------------------------------------------------------------------------


def require_agent(uow: UnitOfWork, agent_id: str, *, for_update: bool = False) -> Agent:
    """Inside the caller's transaction."""
    agent = uow.agents.get(agent_id, for_update=for_update) if agent_id.isalnum() else None
    if agent is None:
        raise AgentNotFound("There is no agent with this id.", agent_id=agent_id[:64])
    return agent


def position_of(uow: UnitOfWork, agent: Agent) -> AgentPosition:
    states = uow.ledger.states([agent.float_account_id, agent.credit_account_id, agent.commission_account_id])
    return AgentPosition(
        agent,
        FloatPosition(
            states[agent.float_account_id].balance,
            states[agent.credit_account_id].balance,
            agent.credit_limit_qepik,
        ),
        states[agent.commission_account_id].balance,
    )


def record_movement(
    uow: UnitOfWork,
    clock: Clock,
    agent: Agent,
    kind: MovementKind,
    amount_qepik: int,
    transfers: list[Transfer],
    **details: str | None,
) -> Movement:
    """Inside the caller's transaction: post the transfers (if any) and write the statement line with what the
    agent's accounts hold after them."""
    movement_id = uuid.uuid4().hex
    now = clock.now()
    if transfers:
        uow.ledger.post_movement(movement_id, transfers, msisdn=details.get("msisdn"), created_at=now)
    after = position_of(uow, agent)
    movement = Movement(
        id=movement_id,
        agent_id=agent.id,
        kind=kind,
        amount_qepik=amount_qepik,
        float_after_qepik=after.position.float_qepik,
        credit_after_qepik=after.position.credit_available_qepik,
        commission_after_qepik=after.commission_qepik,
        created_at=now,
        **details,
    )
    uow.agents.add_movement(movement)
    return movement


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > NOTE_LENGTH_MAX:
        raise InvalidInput(f"A note is at most {NOTE_LENGTH_MAX} characters.", field="note")
    return note or None
