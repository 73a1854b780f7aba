"""Retail agents: staff manage them (registry, float deposits, credit limits, commission, till users, reports);
an agent's own till system sells with its agent API key (`/v1/agent/...`)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from topup.adapters.reports.agent_reports import daily_report_csv, daily_report_pdf, statement_csv
from topup.domain.agents import Agent, AgentKind, AgentRole, AgentStatus, AgentUser, Movement, parse_percent
from topup.domain.calendar import baku_date
from topup.domain.money import format_amount, parse_amount
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AgentDep, AppDep, IdempotencyKey, download, own_agent
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import (
    AgentChange,
    CommissionRate,
    CreditLimit,
    NewAgent,
    NewAgentUser,
    NewDeposit,
    NewPayout,
    NewSale,
    TopUpProduct,
)
from topup.services import agent_reports, agent_users, agents
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["agents"])
ReportFormat = Annotated[Literal["json", "csv", "pdf"], Query(alias="format")]
Language = Annotated[Literal["az", "en", "ru"], Query()]


# --- staff ----------------------------------------------------------------------------------------------------------


@router.post("/agents", status_code=201, summary="Register an agent (a shop, post office, kiosk, ...)")
def register(
    request: Request, body: NewAgent, application: AppDep, caller: AdminDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        agent = agents.register_agent(
            uow,
            application.clock,
            name=body.name,
            kind=AgentKind(body.kind),
            licence_number=body.licence_number,
            address=body.address,
            verified=body.verified,
        )
        return 201, agent_json(agent)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/agents", summary="Agents, by name")
def list_agents(
    application: AppDep,
    _caller: AdminDep,
    kind: Annotated[AgentKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=agents.LIST_LIMIT_MAX)] = 100,
) -> dict[str, Any]:
    return {"items": [agent_json(a) for a in agents.list_agents(application.uow(), kind=kind, limit=limit)]}


@router.get("/agents/{agent_id}", summary="An agent with its float, credit and commission")
def get_agent(agent_id: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return position_json(agents.position(application.uow(), agent_id=agent_id))


@router.patch("/agents/{agent_id}", summary="Suspend, reactivate or close an agent; mark it verified")
def change(agent_id: str, body: AgentChange, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    agent = agents.change_agent(
        application.uow(),
        application.clock,
        agent_id=agent_id,
        status=AgentStatus(body.status) if body.status else None,
        verified=body.verified,
    )
    return agent_json(agent)


@router.post("/agents/{agent_id}/deposits", status_code=201, summary="Record money the agent paid in")
def deposit(
    agent_id: str,
    request: Request,
    body: NewDeposit,
    application: AppDep,
    caller: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        movement = agents.deposit(
            uow, application.clock, agent_id=agent_id, amount_qepik=parse_amount(body.amount), note=body.note
        )
        return 201, movement_json(movement)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.put("/agents/{agent_id}/credit-limit", summary="Set the credit the agent may sell on")
def credit_limit(agent_id: str, body: CreditLimit, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    limit = 0 if body.credit_limit.strip() in ("0", "0.00") else parse_amount(body.credit_limit)
    agents.set_credit_limit(application.uow(), application.clock, agent_id=agent_id, credit_limit_qepik=limit)
    return position_json(agents.position(application.uow(), agent_id=agent_id))


@router.post("/agents/{agent_id}/commission-payouts", status_code=201, summary="Pay the agent its commission")
def payout(
    agent_id: str,
    request: Request,
    body: NewPayout,
    application: AppDep,
    caller: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        amount = parse_amount(body.amount) if body.amount is not None else None
        movement = agents.pay_out_commission(uow, application.clock, agent_id=agent_id, amount_qepik=amount)
        return 201, movement_json(movement)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/commission-rates", summary="Commission per agent kind and operator")
def list_rates(application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return {
        "items": [
            {"agent_kind": kind.value, "operator": operator, "percent": format_amount(rate)}
            for kind, operator, rate in agents.commission_rates(application.uow())
        ]
    }


@router.put("/commission-rates/{kind}/{operator}", summary="Set the commission of a kind of agent for an operator")
def set_rate(
    kind: AgentKind, operator: str, body: CommissionRate, application: AppDep, _caller: AdminDep
) -> dict[str, Any]:
    rate = parse_percent(body.percent)
    agents.set_commission_rate(
        application.uow(), application.clock, kind=kind, operator=operator[:32], rate_basis_points=rate
    )
    return {"agent_kind": kind.value, "operator": operator, "percent": format_amount(rate)}


@router.post("/agents/{agent_id}/users", status_code=201, summary="A till user of the agent (POS page sign-in)")
def add_user(agent_id: str, body: NewAgentUser, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    user = agent_users.add_user(
        application.uow(),
        application.agent_access,
        agent_id=agent_id,
        username=body.username,
        password=body.password,
        role=AgentRole(body.role),
    )
    return user_json(user)


@router.get("/agents/{agent_id}/users", summary="The agent's till users")
def list_users(agent_id: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return {"items": [user_json(u) for u in agent_users.users_of(application.uow(), agent_id=agent_id)]}


@router.get("/agents/{agent_id}/statement", summary="Every movement of the agent's money (JSON or CSV)")
def staff_statement(
    agent_id: str,
    application: AppDep,
    _caller: AdminDep,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    format: ReportFormat = "json",
) -> Response:
    return _statement(application, agent_id, created_from, created_to, format)


@router.get("/agents/{agent_id}/daily-report", summary="The end-of-day report (JSON, CSV or PDF)")
def staff_daily_report(
    agent_id: str,
    application: AppDep,
    _caller: AdminDep,
    day: Annotated[date | None, Query(alias="date")] = None,
    format: ReportFormat = "json",
    language: Language = "az",
) -> Response:
    return _daily(application, agent_id, day, format, language)


# --- the agent's own till system ---------------------------------------------------------------------------------


@router.get("/agent", summary="The calling agent: its float, credit and commission")
def own_position(application: AppDep, caller: AgentDep) -> dict[str, Any]:
    return position_json(agents.position(application.uow(), agent_id=own_agent(caller)))


@router.post("/agent/sales", status_code=201, summary="Sell a top-up or a bundle for a customer's number")
def sell(
    request: Request, body: NewSale, application: AppDep, caller: AgentDep, idempotency_key: IdempotencyKey = None
) -> Response:
    agent_id = own_agent(caller)

    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        product = body.product
        if isinstance(product, TopUpProduct):
            sale = agents.sell_top_up(
                uow,
                application.clock,
                application.codes,
                agent_id=agent_id,
                number=body.msisdn,
                amount_qepik=parse_amount(product.amount),
            )
        else:
            sale = agents.sell_bundle(
                uow,
                application.clock,
                application.codes,
                agent_id=agent_id,
                number=body.msisdn,
                bundle_code=product.code,
            )
        return 201, sale_json(sale, base_url=application.settings.public_base_url)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/agent/statement", summary="The calling agent's statement (JSON or CSV)")
def own_statement(
    application: AppDep,
    caller: AgentDep,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    format: ReportFormat = "json",
) -> Response:
    return _statement(application, own_agent(caller), created_from, created_to, format)


@router.get("/agent/daily-report", summary="The calling agent's end-of-day report (JSON, CSV or PDF)")
def own_daily_report(
    application: AppDep,
    caller: AgentDep,
    day: Annotated[date | None, Query(alias="date")] = None,
    format: ReportFormat = "json",
    language: Language = "az",
) -> Response:
    return _daily(application, own_agent(caller), day, format, language)


# --- shapes ------------------------------------------------------------------------------------------------------


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "kind": agent.kind.value,
        "licence_number": agent.licence_number,
        "address": agent.address,
        "verified": agent.verified,
        "status": agent.status.value,
        "credit_limit": serialise.money(agent.credit_limit_qepik),
        "created_at": agent.created_at.isoformat(),
    }


def position_json(held: agents.AgentPosition) -> dict[str, Any]:
    position = held.position
    return {
        **agent_json(held.agent),
        "float": serialise.money(position.float_qepik),
        "credit_available": serialise.money(position.credit_available_qepik),
        "credit_used": serialise.money(position.credit_used_qepik),
        "spendable": serialise.money(position.spendable_qepik),
        "commission": serialise.money(held.commission_qepik),
    }


def movement_json(m: Movement) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind.value,
        "amount": serialise.money(m.amount_qepik),
        "float_after": serialise.money(m.float_after_qepik),
        "credit_after": serialise.money(m.credit_after_qepik),
        "commission_after": serialise.money(m.commission_after_qepik),
        "msisdn": m.msisdn,
        "operator": m.operator,
        "product": m.product,
        "transaction_id": m.transaction_id,
        "note": m.note,
        "created_at": m.created_at.isoformat(),
    }


def sale_json(sale: agents.Sale, *, base_url: str) -> dict[str, Any]:
    record = sale.record
    return {
        "transaction": serialise.transaction(record),
        "receipt_url": f"{base_url}/v1/transactions/{record.id}/receipt",
        "verification_code": record.verification_code,
        "commission": serialise.money(sale.commission_qepik),
        "float_after": serialise.money(sale.position.float_qepik),
        "credit_available": serialise.money(sale.position.credit_available_qepik),
    }


def user_json(user: AgentUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "agent_id": user.agent_id,
        "username": user.username,
        "role": user.role.value,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


def _statement(
    application: AppDep, agent_id: str, created_from: datetime | None, created_to: datetime | None, format: str
) -> Response:
    found = agents.statement(application.uow(), agent_id=agent_id, created_from=created_from, created_to=created_to)
    if format == "csv":
        return download(statement_csv(found).encode(), "text/csv; charset=utf-8", f"statement-{agent_id}.csv")
    return _json({"items": [movement_json(m) for m in found]})


def _daily(application: AppDep, agent_id: str, day: date | None, format: str, language: str) -> Response:
    day = day or baku_date(application.clock.now())
    report = agent_reports.daily_report(application.uow(), agent_id=agent_id, day=day)
    name = f"day-{agent_id}-{day.isoformat()}"
    if format == "csv":
        return download(daily_report_csv(report).encode(), "text/csv; charset=utf-8", f"{name}.csv")
    if format == "pdf":
        return download(daily_report_pdf(report, language=language), "application/pdf", f"{name}.pdf")
    return _json(
        {
            "agent_id": agent_id,
            "date": day.isoformat(),
            "opening_float": serialise.money(report.opening.float_qepik),
            "closing_float": serialise.money(report.closing.float_qepik),
            "credit_available": serialise.money(report.closing.credit_available_qepik),
            "credit_used": serialise.money(report.credit_used_closing_qepik),
            "sales": report.sales_count,
            "sales_amount": serialise.money(report.sales_qepik),
            "commission": serialise.money(report.commission_qepik),
            "deposits": serialise.money(report.deposits_qepik),
            "payouts": serialise.money(report.payouts_qepik),
            "kiosk_cash": serialise.money(report.kiosk_cash_qepik),
            "by_operator": {
                operator: {"sales": count, "amount": serialise.money(amount)}
                for operator, (count, amount) in report.sales_by_operator.items()
            },
            "movements": [movement_json(m) for m in report.movements],
        }
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
