"""Imported lazily, on the first request: its import takes a while."""
import time

_end = time.perf_counter() + 0.25
TABLE = []
while time.perf_counter() < _end:
    TABLE.append(len(TABLE) ** 2)
