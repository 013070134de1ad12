"""Audit cases use the real services of tests/services.py."""

from services import grpc_server, postgres, redis_server  # noqa: F401
