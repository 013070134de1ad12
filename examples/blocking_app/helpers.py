"""Utilities the example's jobs use. Imported before patching (see __init__.py)."""

from time import sleep


def pause(seconds: float) -> None:
    """Back off between retries -- with the original, blocking sleep."""
    sleep(seconds)


def checksum(rounds: int) -> int:
    """CPU-bound work that never yields to the hub."""
    total = 0
    for i in range(rounds):
        total = (total * 31 + i) % 1_000_003
    return total
