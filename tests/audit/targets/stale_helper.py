"""A helper that binds the original sleep at import time."""
from time import sleep


def nap(seconds):
    sleep(seconds)
