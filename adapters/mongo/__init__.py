"""MongoDB adapters on Beanie 2 and PyMongo's async client."""

from adapters.mongo.database import MongoDatabase
from adapters.mongo.unit_of_work import MongoUnitOfWork

__all__ = ["MongoDatabase", "MongoUnitOfWork"]
