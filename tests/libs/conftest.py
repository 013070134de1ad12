"""Library tests use real services (tests/services.py): PostgreSQL and redis-server."""

from services import postgres, redis_server  # noqa: F401
