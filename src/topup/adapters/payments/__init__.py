"""Payment providers: the HTTP adapters (card acquirer, PayPal, WebMoney, GoldenPay, Google Pay) and the sandboxes
that ship with the product. Import from the modules themselves: this package imports nothing, so that the CLI
and the worker do not load the web framework the sandboxes need."""
