"""dnspython against a local DNS server that answers after 0.2 s: cooperative once patched.

The server is a gevent DatagramServer in this process; four resolver queries overlap.
"""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import dns.message  # noqa: E402
import dns.resolver  # noqa: E402
import dns.rrset  # noqa: E402
import gevent  # noqa: E402
from gevent.server import DatagramServer  # noqa: E402


class SlowDNS(DatagramServer):
    def handle(self, data, address):
        query = dns.message.from_wire(data)
        answer = dns.message.make_response(query)
        name = query.question[0].name
        answer.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "127.0.0.7"))
        gevent.sleep(0.2)
        self.socket.sendto(answer.to_wire(), address)


server = SlowDNS("127.0.0.1:0")
server.start()
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = server.address[1]
resolver.lifetime = 5


def lookup(name):
    return [r.address for r in resolver.resolve(name, "A")]


start = time.perf_counter()
jobs = [gevent.spawn(lookup, f"host{i}.example.test.") for i in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
server.stop()
assert [job.value for job in jobs] == [["127.0.0.7"]] * 4
print(f"4 lookups in {elapsed:.2f} s")
assert elapsed < 0.5, "the lookups did not overlap"  # one after another: 0.8 s
