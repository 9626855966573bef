"""Integration tests: the service wired by bootstrap, driven through its entry points."""
