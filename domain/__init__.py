"""Trellis's pure core: entities, value objects, rules, events, errors and ports.

Imports the standard library only (checked by import-linter).
"""
