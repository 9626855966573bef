"""Observability: the access log, Prometheus metrics and OpenTelemetry spans for every request.

``metrics`` holds every metric the service exports, so other features import theirs from one
place; ``middleware`` wraps the application once at start-up (``instrument``).
"""
