"""Payments: an adapter speaking each provider's protocol (card acquirer, PayPal, GoldenPay, WebMoney, Google Pay)
and the sandbox of each, which ships with the product.

The modules here import nothing from this package's namespace (only its modules), so importing any one of them
first cannot find this file half-run.
"""

from topup.adapters.payments.card_acquirer import HttpCardAcquirer
from topup.adapters.payments.goldenpay import HttpGoldenPay
from topup.adapters.payments.google_pay import GooglePaySheet
from topup.adapters.payments.paypal import HttpPayPal
from topup.adapters.payments.sandbox_acquirer import create_sandbox_acquirer
from topup.adapters.payments.sandbox_goldenpay import create_sandbox_goldenpay
from topup.adapters.payments.sandbox_googlepay import create_sandbox_googlepay
from topup.adapters.payments.sandbox_paypal import create_sandbox_paypal
from topup.adapters.payments.sandbox_webmoney import create_sandbox_webmoney
from topup.adapters.payments.webmoney import WebMoneyMerchant
from topup.services.payments import PaymentRefused

__all__ = [
    "GooglePaySheet",
    "HttpCardAcquirer",
    "HttpGoldenPay",
    "HttpPayPal",
    "PaymentRefused",
    "WebMoneyMerchant",
    "create_sandbox_acquirer",
    "create_sandbox_goldenpay",
    "create_sandbox_googlepay",
    "create_sandbox_paypal",
    "create_sandbox_webmoney",
]
