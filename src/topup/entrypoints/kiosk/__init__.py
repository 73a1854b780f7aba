"""The kiosk terminal's own program: touch pages served on the kiosk itself (`topup kiosk serve`), its durable
queue, and a forwarder that sends the queued payments to the server whenever it answers."""
