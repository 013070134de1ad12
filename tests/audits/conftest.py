"""Audit cases use the real services of tests/services.py and tests/services_more.py."""

from services import grpc_server, postgres, redis_server  # noqa: F401
from services_more import mariadb, memcached, moto_server, rabbitmq, slapd, sshd  # noqa: F401
