"""Lines and number ports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import bindparam, delete, insert, select, update

from topup.adapters.db.handle import ConnectionHandle, Write, dialect_insert
from topup.adapters.db.tables import accounts, lines, number_ports
from topup.domain.ledger import AccountState, Unit
from topup.domain.lines import Line, LineStatus, LineType
from topup.domain.numbers import Msisdn

_LINE_COLUMNS = (
    lines.c.msisdn,
    lines.c.operator,
    lines.c.type,
    lines.c.status,
    lines.c.language,
    lines.c.main_account_id,
    lines.c.iccid,
    lines.c.valid_until,
    lines.c.auto_recharge_below_qepik,
)


# Built once: these run on every top-up, and building a statement costs more Python than executing it.
_LINE = (
    select(*_LINE_COLUMNS, accounts.c.balance)
    .join(accounts, accounts.c.id == lines.c.main_account_id)
    .where(lines.c.msisdn == bindparam("msisdn"))
)
_LINE_FOR_UPDATE = _LINE.with_for_update()
_SET_VALID_UNTIL = Write(
    "lines",
    "UPDATE lines SET valid_until = :new_valid_until, updated_at = :moment WHERE msisdn = :line_msisdn",
    update(lines)
    .where(lines.c.msisdn == bindparam("line_msisdn"))
    .values(valid_until=bindparam("new_valid_until"), updated_at=bindparam("moment")),
)


class SqlLineRepository:
    def __init__(self, handle: ConnectionHandle, known_states: dict[int, AccountState]) -> None:
        self._handle = handle
        # Shared with the ledger of the same unit of work: the main account read with the line (one round
        # trip instead of two on every top-up) is not read again.
        self._known_states = known_states

    def get(self, msisdn: Msisdn, *, for_update: bool = False) -> Line | None:
        query = _LINE_FOR_UPDATE if for_update else _LINE
        row = self._handle.connection.execute(query, {"msisdn": msisdn.e164}).first()
        if row is None:
            return None
        self._known_states[row.main_account_id] = AccountState(
            row.main_account_id, Unit.QEPIK, row.balance, tracks_balance=True
        )
        return Line(
            msisdn=Msisdn(row.msisdn),
            operator=row.operator,
            type=LineType(row.type),
            status=LineStatus(row.status),
            language=row.language,
            main_account_id=row.main_account_id,
            iccid=row.iccid,
            valid_until=row.valid_until,
            auto_recharge_below_qepik=row.auto_recharge_below_qepik,
        )

    def add(self, line: Line, *, now: datetime) -> None:
        self._handle.connection.execute(
            insert(lines).values(
                msisdn=line.msisdn.e164,
                operator=line.operator,
                type=line.type.value,
                status=line.status.value,
                language=line.language,
                main_account_id=line.main_account_id,
                iccid=line.iccid,
                valid_until=line.valid_until,
                created_at=now,
                updated_at=now,
            )
        )

    def set_valid_until(self, msisdn: Msisdn, valid_until: date | None, *, now: datetime) -> None:
        """Held back for the transaction's next statement (a top-up's idempotency record, or its commit)."""
        self._handle.defer(
            _SET_VALID_UNTIL, {"line_msisdn": msisdn.e164, "new_valid_until": valid_until, "moment": now}
        )

    def set_operator(self, msisdn: Msisdn, operator: str, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(lines).where(lines.c.msisdn == msisdn.e164).values(operator=operator, updated_at=now)
        )

    def set_auto_recharge_below(self, msisdn: Msisdn, threshold_qepik: int | None, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(lines)
            .where(lines.c.msisdn == msisdn.e164)
            .values(auto_recharge_below_qepik=threshold_qepik, updated_at=now)
        )

    def iccid_taken(self, iccid: str) -> bool:
        return self._handle.connection.execute(select(lines.c.msisdn).where(lines.c.iccid == iccid)).first() is not None


class SqlPortRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def operator_for(self, msisdn: Msisdn) -> str | None:
        value = self._handle.connection.execute(
            select(number_ports.c.operator).where(number_ports.c.msisdn == msisdn.e164)
        ).scalar_one_or_none()
        return None if value is None else str(value)

    def put(self, msisdn: Msisdn, operator: str, *, now: datetime) -> None:
        statement = dialect_insert(self._handle, number_ports).values(
            msisdn=msisdn.e164, operator=operator, created_at=now
        )
        self._handle.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[number_ports.c.msisdn], set_={"operator": operator, "created_at": now}
            )
        )

    def remove(self, msisdn: Msisdn) -> bool:
        result = self._handle.connection.execute(delete(number_ports).where(number_ports.c.msisdn == msisdn.e164))
        return bool(result.rowcount)

    def list(self, *, limit: int) -> list[tuple[Msisdn, str, datetime]]:
        rows = self._handle.connection.execute(select(number_ports).order_by(number_ports.c.msisdn).limit(limit))
        return [(Msisdn(row.msisdn), row.operator, row.created_at) for row in rows]
