"""Topup: top up and charge prepaid mobile lines in Azerbaijan."""
