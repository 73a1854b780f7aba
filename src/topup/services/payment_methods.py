"""Saved cards (card on file): the acquirer keeps the card and gives us a token; we keep the token, brand, last
four digits, expiry and a keyed fingerprint (for the per-card limits). The card number passes through once,
to the acquirer, and is never stored or logged.

Who sees a line's saved cards: staff all of them; an integrator (or the portal) those it saved.
"""

from __future__ import annotations

import contextlib
import uuid

from topup.domain.calendar import baku_date
from topup.domain.cards import check_card, check_cvc
from topup.domain.errors import DomainError, ErrorKind
from topup.domain.numbers import parse_msisdn
from topup.domain.payment_methods import (
    SAVED_PER_LINE_MAX,
    PaymentMethodNotFound,
    SavedCard,
    TooManyPaymentMethods,
)
from topup.services.lines import require_line
from topup.services.order_saga import Saga
from topup.services.payments import CardDetails, CardNotSaved, PaymentRefused, ProviderUnavailable
from topup.services.ports import UnitOfWork


class CardNotAccepted(DomainError):
    """The acquirer's check of the card was declined: it cannot be saved (`decline_code` says why)."""

    code = "card_not_accepted"


class AcquirerUnavailable(DomainError):
    code = "payment_provider_unavailable"
    kind = ErrorKind.UNAVAILABLE


def save_card(
    uow: UnitOfWork, saga: Saga, *, scope: str, number: str, card: CardDetails, method_id: str | None = None
) -> SavedCard:
    """Check the card, have the acquirer keep it, and remember its token for the line (as `method_id`, when the
    caller chose the id for idempotency)."""
    msisdn = parse_msisdn(number)
    now = saga.clock.now()
    pan, summary = check_card(card.number, card.expiry_month, card.expiry_year, today=baku_date(now))
    check_cvc(card.cvc, brand=summary.brand)
    with uow:
        require_line(uow, msisdn)
        _check_room(uow, msisdn.e164)
    try:  # no transaction is open while the acquirer is asked
        on_file = saga.acquirer.save_card(CardDetails(pan, card.expiry_month, card.expiry_year, card.cvc))
    except CardNotSaved as declined:
        raise CardNotAccepted(
            f"The bank declined this card ({declined.code}); it was not saved.", decline_code=declined.code
        ) from None
    except ProviderUnavailable:
        raise AcquirerUnavailable("The card acquirer did not answer; the card was not saved. Try again.") from None
    saved = SavedCard(
        id=method_id or uuid.uuid4().hex,
        scope=scope,
        msisdn=msisdn.e164,
        token=on_file.token,
        brand=on_file.brand,
        last_four=on_file.last_four,
        expiry_month=on_file.expiry_month,
        expiry_year=on_file.expiry_year,
        fingerprint=saga.fingerprints.card(pan),
        created_at=now,
    )
    try:
        with uow:
            require_line(uow, msisdn, for_update=True)
            _check_room(uow, msisdn.e164)  # a second save racing this one
            uow.payment_methods.add(saved)
            uow.commit()
    except DomainError:
        _forget_at_acquirer(saga, on_file.token)
        raise
    return saved


def find_card(uow: UnitOfWork, *, method_id: str) -> SavedCard | None:
    """A card by id, removed or not (an idempotent retry asks what became of its save)."""
    with uow:
        return uow.payment_methods.get(method_id) if method_id.isalnum() else None


def list_cards(uow: UnitOfWork, *, number: str, scope: str | None) -> list[SavedCard]:
    msisdn = parse_msisdn(number)
    with uow:
        require_line(uow, msisdn)
        return uow.payment_methods.of_line(msisdn.e164, scope=scope)


def owned_card(uow: UnitOfWork, *, number: str, method_id: str, scope: str | None) -> SavedCard:
    """Inside the caller's transaction: a saved card of this line (and, for an integrator, saved by it);
    removed ones do not exist."""
    msisdn = parse_msisdn(number)
    card = uow.payment_methods.get(method_id) if method_id.isalnum() else None
    if card is None or card.msisdn != msisdn.e164 or card.removed_at is not None or scope not in (None, card.scope):
        raise PaymentMethodNotFound("This line has no saved card with this id.", payment_method_id=method_id[:64])
    return card


def remove_card(uow: UnitOfWork, saga: Saga, *, number: str, method_id: str, scope: str | None) -> SavedCard:
    """Forget the card here (auto-recharges that used it are removed with it), then at the acquirer. If the
    acquirer does not answer, the token is still forgotten here, so it can never be charged by us again."""
    msisdn = parse_msisdn(number)
    now = saga.clock.now()
    with uow:
        require_line(uow, msisdn, for_update=True)
        card = owned_card(uow, number=msisdn.e164, method_id=method_id, scope=scope)
        uow.payment_methods.remove(card.id, now=now)
        for rule in uow.auto_recharges.using(card.id):
            uow.auto_recharges.remove(rule.id)
            if rule.threshold_qepik is not None:
                uow.lines.set_auto_recharge_below(msisdn, None, now=now)
        uow.commit()
    _forget_at_acquirer(saga, card.token)
    return card


def _forget_at_acquirer(saga: Saga, token: str) -> None:
    # If the acquirer cannot be told, it keeps a token nobody here holds any more; it lapses with the card.
    with contextlib.suppress(ProviderUnavailable, PaymentRefused):
        saga.acquirer.remove_card(token)


def _check_room(uow: UnitOfWork, msisdn: str) -> None:
    if len(uow.payment_methods.of_line(msisdn, scope=None)) >= SAVED_PER_LINE_MAX:
        raise TooManyPaymentMethods(
            f"A line keeps at most {SAVED_PER_LINE_MAX} saved cards; remove one first.", limit=SAVED_PER_LINE_MAX
        )
