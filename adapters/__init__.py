"""Driven adapters, one package per technology. They import the domain and their own library only."""
