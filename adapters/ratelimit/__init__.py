"""Rate limiting on the ``limits`` package (Redis or in-process storage)."""
