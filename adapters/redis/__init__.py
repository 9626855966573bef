"""Redis adapters (redis-py asyncio): the read cache, refresh-token families, idempotency keys.

All of them share one ``redis.asyncio.Redis`` client (one connection pool) made by
``create_client``; the composition root owns it and closes it. A Redis failure surfaces as
``DependencyUnavailable("redis")``, never as a redis-py exception.
"""
