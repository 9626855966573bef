"""The HTTP API end to end in-process: Litestar app over the embedded (in-memory) adapters."""
