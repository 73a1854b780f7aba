"""Run a state-changing request once per idempotency key, replaying the first answer to every retry.

The key is claimed in the same transaction as the work, so a crash or an error leaves no claim behind, and
two concurrent requests with one key cannot both do the work: the second waits for the first to commit
and then replays its answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from topup.domain.errors import DomainError, ErrorKind, IdempotencyKeyInvalid, IdempotencyKeyMissing
from topup.services.ports import Clock, IdempotentRequest, StoredResponse, UnitOfWork

KEY_LENGTH_MAX = 255
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces


def idempotent_request(scope: str, key: str | None, method: str, path: str, body: bytes) -> IdempotentRequest:
    if key is None or not key:
        raise IdempotencyKeyMissing("This request needs an Idempotency-Key header (any unique string).")
    if _KEY_PATTERN.fullmatch(key) is None:
        raise IdempotencyKeyInvalid("An Idempotency-Key is 1 to 255 printable ASCII characters without spaces.")
    fingerprint = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
    return IdempotentRequest(scope=scope, key=key, fingerprint=fingerprint)


def run_once(
    uow: UnitOfWork, clock: Clock, request: IdempotentRequest, operation: Callable[[], StoredResponse]
) -> tuple[StoredResponse, bool]:
    """Returns the response and whether it was replayed. `operation` runs in `uow`'s transaction.

    The key is claimed last, with the answer, in one write: a request that cannot fail once its work is done
    needs no claim up front (one statement fewer, no update of the claim). A second request with the key waits
    at that write (or, doing the same work, at the first one's row locks) until the first commits, then finds
    the key taken: its work is rolled back and the first answer replayed, so value moves once."""
    try:
        with uow:
            response = operation()
            if uow.idempotency.record(request, response, now=clock.now()):
                uow.commit()
                return response, False
    except DomainError:
        # A retry of a request that succeeded gets its answer even when doing it again would now be refused
        # (the line was barred since, its balance was spent); a request never done is refused as it should be.
        replayed = _stored(uow, request)
        if replayed is None:
            raise
        return replayed, True
    replayed = _stored(uow, request)
    if replayed is None:  # the key's holder gave it back (a saga refused before acting) after making us wait
        raise IdempotentRequestInProgress("A request with this Idempotency-Key was just given up: ask again.")
    return replayed, True


def _stored(uow: UnitOfWork, request: IdempotentRequest) -> StoredResponse | None:
    with uow:
        return uow.idempotency.stored(request)


class IdempotentRequestInProgress(DomainError):
    code = "idempotency_request_in_progress"
    kind = ErrorKind.CONFLICT


def run_saga_once(
    uow: UnitOfWork,
    clock: Clock,
    request: IdempotentRequest,
    *,
    resource_id: str,
    start: Callable[[], StoredResponse],
    current: Callable[[str], StoredResponse | None],
) -> tuple[StoredResponse, bool]:
    """For requests that call a provider, which must not happen inside a database transaction.

    The key is claimed and committed first, naming the resource the request creates (`resource_id`); then
    `start()` runs (its own transactions, its provider calls) and the answer is stored. A retry while the
    first is still running, or after it died, gets the resource as it stands now (`current`), or — when the
    resource was never recorded — `409 idempotency_request_in_progress` (nothing was charged: use a new key).
    """
    with uow:
        stored = uow.idempotency.claim(request, now=clock.now(), pending_body=resource_id)
        uow.commit()
    if stored is None:
        try:
            response = start()
        except DomainError:  # refused before anything happened (bad card, unknown line): the key is free again
            with uow:
                uow.idempotency.release(request)
                uow.commit()
            raise
        with uow:
            uow.idempotency.complete(request, response)
            uow.commit()
        return response, False
    if stored.status_code is not None:
        return stored, True
    now_standing = current(stored.body)
    if now_standing is None:
        raise IdempotentRequestInProgress(
            "A request with this Idempotency-Key is still being processed: ask again in a moment."
        )
    return now_standing, True
