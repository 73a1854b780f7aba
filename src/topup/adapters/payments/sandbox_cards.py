"""The sandbox acquirer's magic cards: which test number does what.

Numbers are Stripe's public test cards; response codes are the ISO 8583 ones acquirers pass through
(PROTOCOLS.md section 5). Any other Luhn-valid number is authorised without a challenge, so a demo works
with whatever valid number someone types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Outcome(StrEnum):
    AUTHORISE = "authorise"  # 3-D Secure frictionless (transStatus Y), then approved ("00")
    CHALLENGE = "challenge"  # 3-D Secure challenge (transStatus C): the customer must enter the one-time code
    LOSE_RESPONSE = "lose_response"  # authorised and recorded, but the connection drops before any answer


@dataclass(frozen=True, slots=True)
class Decline:
    code: str  # normalised reason, as PaymentResult.decline_code
    response_code: str  # the network's own code, as PaymentResult.raw_code
    message: str


CARD_DECLINED = Decline("card_declined", "05", "The card was declined (do not honour).")
INSUFFICIENT_FUNDS = Decline("insufficient_funds", "51", "The card has insufficient funds.")
EXPIRED_CARD = Decline("expired_card", "54", "The card has expired.")
INCORRECT_CVC = Decline("incorrect_cvc", "N7", "The security code is incorrect.")
PROCESSING_ERROR = Decline("processing_error", "96", "The issuer could not process the payment; try again later.")
# A failed or abandoned challenge never reaches the issuer, so there is no ISO 8583 code: the raw code is the
# 3-D Secure transStatus, N ("not authenticated"). Not "1A": that asks for a retry *with* 3-D Secure.
AUTHENTICATION_FAILED = Decline("authentication_failed", "N", "3-D Secure authentication failed.")
AUTHENTICATION_CANCELLED = Decline(
    "authentication_cancelled", "N", "The cardholder cancelled 3-D Secure authentication."
)

CHALLENGE_CODE = "1234"  # the one-time code the sandbox's challenge page accepts (Adyen's test value)

MAGIC_CARDS: MappingProxyType[str, Outcome | Decline] = MappingProxyType(
    {
        "4242424242424242": Outcome.AUTHORISE,
        "5555555555554444": Outcome.AUTHORISE,
        "4000000000003220": Outcome.CHALLENGE,
        "4000000000000002": CARD_DECLINED,
        "4000000000009995": INSUFFICIENT_FUNDS,
        "4000000000000069": EXPIRED_CARD,
        "4000000000000127": INCORRECT_CVC,
        "4000000000000119": PROCESSING_ERROR,
        "4000000000000341": Outcome.LOSE_RESPONSE,
    }
)


def behaviour_of(pan: str) -> Outcome | Decline:
    return MAGIC_CARDS.get(pan, Outcome.AUTHORISE)


_DECLINES = {
    decline.code: decline
    for decline in (CARD_DECLINED, INSUFFICIENT_FUNDS, EXPIRED_CARD, INCORRECT_CVC, PROCESSING_ERROR)
}


def behaviour_name(behaviour: Outcome | Decline) -> str:
    """How a saved card remembers what its number would do (the number itself is not kept)."""
    return behaviour.code if isinstance(behaviour, Decline) else behaviour.value


def behaviour_named(name: str) -> Outcome | Decline:
    return _DECLINES[name] if name in _DECLINES else Outcome(name)
