"""What a kiosk terminal runs on besides the server: its durable local store, its bill acceptor, and the
server's kiosk API."""
