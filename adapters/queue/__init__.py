"""The Redis-backed job queue (SAQ) and the scheduler's Redis lock store."""
