"""Notification rendering (Babel, four languages) and senders."""
