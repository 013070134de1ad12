"""paramiko against OpenSSH's sshd after patch_all(): cooperative.

Four clients each run `sleep 0.5` on the server at once. One after another that would
take four times as long as one command alone (sshd's session start-up included, measured
first); together it takes about one command's time.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import paramiko  # noqa: E402

user, _, address = os.environ["PATCHKIT_SSH"].partition("@")
host, port = address.split(":")
KEY = paramiko.Ed25519Key.from_private_key_file(os.environ["PATCHKIT_SSH_KEY"])


def connect():
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(host, int(port), username=user, pkey=KEY, allow_agent=False,
                   look_for_keys=False, timeout=10)
    return client


def remote_sleep(client, i):
    _stdin, stdout, _stderr = client.exec_command(f"sleep 0.5; echo {i}", timeout=10)
    return stdout.read().decode().strip()


clients = [connect() for _ in range(4)]
start = time.perf_counter()
remote_sleep(clients[0], "alone")  # one command's time, sshd's session start-up included
alone = time.perf_counter() - start
start = time.perf_counter()
jobs = [gevent.spawn(remote_sleep, client, i) for i, client in enumerate(clients)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
for client in clients:
    client.close()
assert [job.value for job in jobs] == ["0", "1", "2", "3"]
print(f"4 remote sleeps of 0.5 s in {elapsed:.2f} s (one alone: {alone:.2f} s)")
assert elapsed < 2.5 * alone, "the commands did not overlap"  # one after another: 4x
