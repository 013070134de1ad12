"""A helper module written before anyone thought of gevent."""
from time import sleep


def nap(seconds):
    sleep(seconds)  # the original time.sleep: holds the hub
