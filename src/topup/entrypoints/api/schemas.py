"""Request bodies. Strict types and no unknown fields: what we cannot read exactly, we refuse."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewLine(Strict):
    msisdn: StrictStr = Field(max_length=32, examples=["+994501234567"])
    type: Literal["prepaid", "postpaid"] = "prepaid"
    iccid: StrictStr | None = Field(default=None, max_length=22)
    language: Literal["az", "en", "ru", "zh"] = "az"


class NewTopUp(Strict):
    msisdn: StrictStr = Field(max_length=32, examples=["050 123 45 67"])
    amount: StrictStr = Field(max_length=32, examples=["5.00"], description="AZN, a decimal string")
    currency: StrictStr = Field(default="AZN", max_length=8)


class NewBundlePurchase(Strict):
    bundle: StrictStr = Field(max_length=64, examples=["azercell-10gb-30d"])


class NewPort(Strict):
    msisdn: StrictStr = Field(max_length=32)
    operator: StrictStr = Field(max_length=32, examples=["bakcell"])


class TopUpProduct(Strict):
    type: Literal["topup"]
    amount: StrictStr = Field(max_length=32, examples=["10.00"])


class BundleProduct(Strict):
    type: Literal["bundle"]
    code: StrictStr = Field(max_length=64, examples=["azercell-10gb-30d"])


class NewQuote(Strict):
    msisdn: StrictStr = Field(max_length=32)
    product: TopUpProduct | BundleProduct = Field(discriminator="type")
    currency: StrictStr = Field(default="AZN", max_length=8)


class NewRate(Strict):
    rate: StrictStr = Field(max_length=32, examples=["1.700000"], description="AZN per unit of the currency")


class CardInput(Strict):
    number: StrictStr = Field(max_length=32, examples=["4242 4242 4242 4242"])
    expiry_month: int = Field(examples=[12])
    expiry_year: int = Field(examples=[2030])
    cvc: StrictStr = Field(max_length=4, examples=["123"])


class CardPaymentInput(Strict):
    method: Literal["card"]
    card: CardInput


class SavedCardPaymentInput(Strict):
    """A card saved for this line before (`POST /v1/lines/{msisdn}/payment-methods`)."""

    method: Literal["saved_card"]
    payment_method_id: StrictStr = Field(max_length=64)


class NewSavedCard(Strict):
    card: CardInput

    def fingerprint_body(self) -> str:
        """Never the card number: the last four and the expiry tell two requests apart well enough."""
        card = self.card
        return json.dumps({"last_four": card.number[-4:], "expiry": f"{card.expiry_month}/{card.expiry_year}"})


class ThresholdRuleInput(Strict):
    threshold: StrictStr = Field(max_length=32, examples=["2.00"], description="AZN: top up when below this")
    amount: StrictStr = Field(max_length=32, examples=["10.00"], description="AZN to top up each time")
    monthly_max: int = Field(default=3, examples=[3], description="at most this many top-ups a Baku month")
    payment_method_id: StrictStr = Field(max_length=64)


class ScheduleRuleInput(Strict):
    day_of_month: int = Field(examples=[25], description="1 to 31; the month's last day when it is shorter")
    amount: StrictStr = Field(max_length=32, examples=["5.00"])
    payment_method_id: StrictStr = Field(max_length=64)


class NotificationSettingsInput(Strict):
    sms: bool = True
    email: StrictStr | None = Field(default=None, max_length=254, examples=["aysel@example.az"])
    webhook_url: StrictStr | None = Field(default=None, max_length=2000)
    muted: list[StrictStr] = Field(default_factory=list, max_length=20, examples=[["data_75"]])


PageLanguage = Literal["az", "en", "ru", "zh"]


class WalletPaymentInput(Strict):
    """PayPal and WebMoney send the customer to approve at the wallet. Google Pay either does the same (our
    sandbox sheet stands in for Google's) or, for an integrator running Google's own button, takes the
    encrypted `token` right here."""

    method: Literal["wallet"]
    wallet: Literal["paypal", "webmoney", "googlepay"]
    token: StrictStr | None = Field(default=None, min_length=1, max_length=16_000)
    language: PageLanguage = "en"


class GoldenPayPaymentInput(Strict):
    method: Literal["goldenpay"]
    language: PageLanguage = "en"


class NewOrder(Strict):
    msisdn: StrictStr = Field(max_length=32)
    product: TopUpProduct | BundleProduct = Field(discriminator="type")
    payment: CardPaymentInput | WalletPaymentInput | GoldenPayPaymentInput | SavedCardPaymentInput = Field(
        discriminator="method"
    )
    currency: StrictStr = Field(default="AZN", max_length=8)
    quote_id: StrictStr | None = Field(default=None, max_length=64)

    def fingerprint_body(self) -> str:
        """The body as the idempotency check sees it: a card reduced to what may be kept (never the PAN), a
        Google Pay token to its hash."""
        masked = self.model_dump(mode="json")
        payment = self.payment
        if isinstance(payment, CardPaymentInput):
            masked["payment"]["card"] = {
                "last_four": payment.card.number[-4:],
                "expiry": f"{payment.card.expiry_month}/{payment.card.expiry_year}",
            }
        elif payment.method == "wallet" and payment.token is not None:
            masked["payment"]["token"] = hashlib.sha256(payment.token.encode()).hexdigest()
        return json.dumps(masked, sort_keys=True)


class NewWebhook(Strict):
    url: StrictStr = Field(max_length=2000, examples=["https://shop.example/topup-events"])
    events: list[StrictStr] = Field(
        default_factory=lambda: ["order.completed", "order.failed", "order.refunded"], max_length=10
    )


class NewChargingSession(Strict):
    msisdn: StrictStr = Field(max_length=32)
    service: Literal["data", "voice", "sms"]
    requested_units: int = Field(description="KB for data, seconds for voice, messages for SMS", examples=[51_200])
    roaming: bool = False


class ChargingUpdate(Strict):
    request_number: int = Field(ge=1, le=1_000_000, description="1 for the first update, then one more each time")
    used_units: int = Field(description="used since the previous report")
    requested_units: int = 0


class ChargingEnd(Strict):
    request_number: int = Field(ge=1, le=1_000_000)
    used_units: int = Field(description="used since the previous report")


class ChargingEvent(Strict):
    msisdn: StrictStr = Field(max_length=32)
    service: Literal["sms"]
    units: int = 1
    roaming: bool = False


class NewAgent(Strict):
    name: StrictStr = Field(max_length=120, examples=["Ülvi market"])
    kind: Literal["shop", "supermarket", "post_office", "bank_branch", "street_vendor", "operator_store", "kiosk"]
    licence_number: StrictStr = Field(max_length=40, examples=["SH-2026-0042"])
    address: StrictStr = Field(max_length=300, examples=["Nizami küç. 10, Bakı"])
    verified: bool = False


class AgentChange(Strict):
    status: Literal["active", "suspended", "closed"] | None = None
    verified: bool | None = None


class NewDeposit(Strict):
    amount: StrictStr = Field(max_length=32, examples=["500.00"])
    note: StrictStr | None = Field(default=None, max_length=200, examples=["bank transfer 2026-12-01"])


class CreditLimit(Strict):
    credit_limit: StrictStr = Field(max_length=32, examples=["200.00"], description="AZN; 0 for none")


class NewPayout(Strict):
    amount: StrictStr | None = Field(default=None, max_length=32, description="AZN; all earned when left out")


class CommissionRate(Strict):
    percent: StrictStr = Field(max_length=8, examples=["2.50"], description="0 to 20 percent, two decimals")


class NewAgentUser(Strict):
    username: StrictStr = Field(max_length=32, examples=["aygun"])
    password: StrictStr = Field(min_length=1, max_length=200)
    role: Literal["cashier", "manager"] = "cashier"


class NewSale(Strict):
    msisdn: StrictStr = Field(max_length=32, examples=["050 123 45 67"])
    product: TopUpProduct | BundleProduct = Field(discriminator="type")


class KioskQuoteInput(Strict):
    msisdn: StrictStr = Field(max_length=32)
    inserted: StrictStr = Field(max_length=32, examples=["10.00"], description="AZN inserted so far")


class KioskPaymentInput(Strict):
    local_id: StrictStr = Field(max_length=64, description="the kiosk's own id of the payment; retries resend it")
    msisdn: StrictStr = Field(max_length=32)
    banknotes: list[int] = Field(max_length=30, examples=[[10, 5]], description="AZN notes as the acceptor took them")
    paid_at: datetime = Field(
        strict=False, description="when the customer paid, on the kiosk's clock (with its offset)"
    )


class NewCollection(Strict):
    counted: StrictStr = Field(max_length=32, examples=["1250.00"], description="AZN counted from the box")
    collected_by: StrictStr = Field(max_length=100, examples=["Rauf Həsənov"])
    note: StrictStr | None = Field(default=None, max_length=200)


class VoucherRedemption(Strict):
    pin: StrictStr = Field(max_length=32, examples=["1234 5678 90123"])
    msisdn: StrictStr = Field(max_length=32)


class VoucherSerials(Strict):
    serials: list[StrictStr] = Field(default_factory=list, max_length=10_000)
    batch_id: StrictStr | None = Field(default=None, max_length=32, description="all cards of a batch instead")
    agent_id: StrictStr | None = Field(default=None, max_length=32)
    reason: StrictStr | None = Field(default=None, max_length=200)
