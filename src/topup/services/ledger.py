"""Check the ledger's invariants: conservation per unit, every stored balance equal to its transfers."""

from __future__ import annotations

from topup.services.ports import LedgerAudit, UnitOfWork


def audit_ledger(uow: UnitOfWork) -> LedgerAudit:
    with uow:
        return uow.ledger.audit()
