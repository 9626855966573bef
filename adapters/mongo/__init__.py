"""MongoDB adapters on Beanie 2 and PyMongo's async client."""
