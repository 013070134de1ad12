"""A Celery app for the deployment tests: one task that blocks the hub, one that does not.

The broker and result backend are ``$DEPLOY_REDIS_URL`` (the suite's redis), and every task
goes to the queue ``$DEPLOY_QUEUE`` so that tests sharing a redis never take each other's.
"""
import ctypes
import os

from celery import Celery

app = Celery("tasksmod", broker=os.environ["DEPLOY_REDIS_URL"],
             backend=os.environ["DEPLOY_REDIS_URL"])
app.conf.task_default_queue = os.environ["DEPLOY_QUEUE"]
app.conf.broker_connection_retry_on_startup = True
libc = ctypes.CDLL(None)


@app.task
def block() -> int:
    libc.usleep(80_000)  # a C call that never yields: holds the worker's hub for 80 ms
    return os.getpid()


@app.task
def coop() -> int:
    return os.getpid()
