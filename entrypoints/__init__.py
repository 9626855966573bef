"""Entry points: settings, the composition root, HTTP, websocket, CLI and worker."""
