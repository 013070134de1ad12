"""Never patches: the audit must say so."""
import time

time.sleep(0.01)
print("unpatched run")
