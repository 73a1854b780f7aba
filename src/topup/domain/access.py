"""Who may do what through the API."""

from __future__ import annotations

from enum import StrEnum

from topup.domain.errors import RoleForbidden


class Role(StrEnum):
    ADMIN = "admin"  # staff: provision lines, edit the catalogue and ports, everything an integrator does
    INTEGRATOR = "integrator"  # wallets, banks, apps: look up, top up, buy bundles, read history


def require_role(role: str, *, allowed: frozenset[Role]) -> None:
    if role not in allowed:
        raise RoleForbidden("This API key may not do this.", role=role, needs=sorted(r.value for r in allowed))
