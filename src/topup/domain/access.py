"""Who may do what through the API."""

from __future__ import annotations

from enum import StrEnum

from topup.domain.errors import RoleForbidden


class Role(StrEnum):
    ADMIN = "admin"  # staff: provision lines, edit the catalogue and ports, everything an integrator does
    INTEGRATOR = "integrator"  # wallets, banks, apps: look up, top up, buy bundles, read history
    AGENT = "agent"  # a retail agent's till system: sells from that agent's float, reads its statement
    KIOSK = "kiosk"  # a cash kiosk: forwards the payments it took, reads its encashment
    USSD_GATEWAY = "ussd_gateway"  # the operator's USSD gateway: the /v1/ussd callback only


# Roles bound to one agent: their keys carry the agent's id and act for it alone.
AGENT_ROLES = frozenset({Role.AGENT, Role.KIOSK})
# The roles the general API (lookups, top-ups, orders, lines) is for.
API_ROLES = frozenset({Role.ADMIN, Role.INTEGRATOR})


def require_role(role: str, *, allowed: frozenset[Role]) -> None:
    if role not in allowed:
        raise RoleForbidden("This API key may not do this.", role=role, needs=sorted(r.value for r in allowed))
