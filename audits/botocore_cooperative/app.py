"""botocore (boto3's core) after patch_all(): cooperative over urllib3.

It stores and reads objects on moto's S3 server, then four clients wait 0.3 s at once
(read_timeout) on an endpoint that accepts and never answers: about 0.3 s in all.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import botocore.session  # noqa: E402
import gevent  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ReadTimeoutError  # noqa: E402

session = botocore.session.get_session()
CREDENTIALS = dict(region_name="us-east-1", aws_access_key_id="test",
                   aws_secret_access_key="test")
s3 = session.create_client("s3", endpoint_url=os.environ["PATCHKIT_S3_ENDPOINT"], **CREDENTIALS)
s3.create_bucket(Bucket="audit")
for i in range(3):
    s3.put_object(Bucket="audit", Key=f"k{i}", Body=b"v%d" % i)
jobs = [gevent.spawn(lambda i=i: s3.get_object(Bucket="audit", Key=f"k{i}")["Body"].read())
        for i in range(3)]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == [b"v0", b"v1", b"v2"]

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
silent_port = silent.getsockname()[1]
stuck = session.create_client("s3", endpoint_url=f"http://127.0.0.1:{silent_port}",
                              config=Config(read_timeout=0.3, connect_timeout=0.3,
                                            retries={"max_attempts": 0},
                                            max_pool_connections=4), **CREDENTIALS)


def stuck_get():
    try:
        stuck.get_object(Bucket="audit", Key="k0")
        return "answered"
    except ReadTimeoutError:
        return "timed out"


start = time.perf_counter()
jobs = [gevent.spawn(stuck_get) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 requests of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the requests did not overlap"  # one after another: 1.2 s
