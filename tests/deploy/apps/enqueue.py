"""Send N ``tasksmod.block`` tasks and wait for them; prints the worker pids that ran them.

    python enqueue.py N [TIMEOUT_S]
"""
import json
import sys

import tasksmod

count = int(sys.argv[1])
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
results = [tasksmod.block.delay() for _ in range(count)] + [tasksmod.coop.delay()]
pids = [result.get(timeout=timeout) for result in results]
print(json.dumps({"pids": sorted(set(pids)), "done": len(pids)}), flush=True)
