"""Benchmark reference apps; not part of the product (see README.md)."""
