"""Monitor tests that run real services reuse the deployment tests' programs and redis."""

from deploy.conftest import _no_program_left_behind  # noqa: F401  (no worker left running)
from services import redis_server  # noqa: F401  (a real redis for Celery)
