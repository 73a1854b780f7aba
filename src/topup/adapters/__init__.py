"""Adapters: the database, receipts, clock and everything else outside the use cases."""
