"""Library tests use real services (tests/services.py): PostgreSQL and redis-server."""

from services import grpc_server, postgres, redis_server  # noqa: F401
from services_more import memcached  # noqa: F401
