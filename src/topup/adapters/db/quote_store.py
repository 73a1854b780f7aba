"""Exchange rates and quotes."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import fx_rates, quotes
from topup.domain.quotes import ProductType, Quote
from topup.services.ports import FxRate


class SqlFxRateRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add(self, rate: FxRate) -> None:
        self._handle.connection.execute(
            insert(fx_rates).values(
                currency=rate.currency, rate_micros=rate.rate_micros, set_at=rate.set_at, set_by=rate.set_by
            )
        )

    def latest(self, currency: str) -> FxRate | None:
        row = self._handle.connection.execute(
            select(fx_rates.c.currency, fx_rates.c.rate_micros, fx_rates.c.set_at, fx_rates.c.set_by)
            .where(fx_rates.c.currency == currency)
            .order_by(fx_rates.c.id.desc())  # append-only: the newest row is the rate in force
            .limit(1)
        ).first()
        return None if row is None else FxRate(**row._mapping)

    def current(self) -> list[FxRate]:
        newest = (
            select(fx_rates.c.currency, func.max(fx_rates.c.id).label("id")).group_by(fx_rates.c.currency).subquery()
        )
        rows = self._handle.connection.execute(
            select(fx_rates.c.currency, fx_rates.c.rate_micros, fx_rates.c.set_at, fx_rates.c.set_by)
            .join(newest, newest.c.id == fx_rates.c.id)
            .order_by(fx_rates.c.currency)
        )
        return [FxRate(**row._mapping) for row in rows]


class SqlQuoteRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add(self, quote: Quote) -> None:
        self._handle.connection.execute(
            insert(quotes).values(
                id=quote.id,
                msisdn=quote.msisdn,
                operator=quote.operator,
                product_type=quote.product_type.value,
                amount_qepik=quote.amount_qepik,
                bundle_code=quote.bundle_code,
                vat_qepik=quote.vat_qepik,
                fee_qepik=quote.fee_qepik,
                currency=quote.currency,
                rate_micros=quote.rate_micros,
                charge_minor=quote.charge_minor,
                validity_days=quote.validity_days,
                valid_until=quote.valid_until,
                created_at=quote.created_at,
                expires_at=quote.expires_at,
            )
        )

    def get(self, quote_id: str) -> Quote | None:
        row = self._handle.connection.execute(select(quotes).where(quotes.c.id == quote_id)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["product_type"] = ProductType(values["product_type"])
        return Quote(**values)
