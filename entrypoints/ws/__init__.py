"""Live events over a websocket (DESIGN §8): the handler, the channel backends with per-channel
sequence numbers and history, and the forwarder from domain events to channels."""
