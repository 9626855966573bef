"""Notifier adapters that deliver outside the process (e-mail over SMTP)."""
