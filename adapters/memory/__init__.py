"""In-memory adapters: real, correct implementations of every port (the embedded default and the test doubles)."""
