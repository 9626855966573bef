"""The HTTP entry point (Litestar): controllers, wire models, envelopes and error mapping."""
