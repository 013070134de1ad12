"""A module whose import takes a while (module-level work, like a big library)."""
import time

_end = time.perf_counter() + 0.25
TABLE = []
while time.perf_counter() < _end:
    TABLE.append(len(TABLE) ** 2)
