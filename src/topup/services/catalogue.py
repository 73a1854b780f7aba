"""Load and read the catalogue."""

from __future__ import annotations

from topup.domain.catalogue import Catalogue
from topup.domain.catalogue_format import parse_catalogue
from topup.services.ports import Clock, UnitOfWork


def load_catalogue(uow: UnitOfWork, clock: Clock, *, source: str) -> tuple[Catalogue, bool]:
    """Parse and make current. Returns the catalogue and whether anything changed (a reload is a no-op)."""
    catalogue = parse_catalogue(source)
    with uow:
        changed = uow.catalogue.save(catalogue, source, now=clock.now())
        uow.commit()
    return catalogue, changed


def current_catalogue(uow: UnitOfWork) -> Catalogue:
    with uow:
        return uow.catalogue.current()
