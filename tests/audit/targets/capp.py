"""A Celery app for `celery -A capp worker -P gevent`; the broker URL comes from BROKER."""
import os

from celery import Celery

app = Celery("capp", broker=os.environ["BROKER"])


@app.task
def add(x, y):
    return x + y
