"""lxml: parsing a large XML document is C work that holds the hub."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402
from lxml import etree  # noqa: E402

entry = b"<entry id='1'><title>t</title><body>text</body></entry>"
document = b"<feed>" + entry * 150_000 + b"</feed>"


def parse():
    return len(etree.fromstring(document))


gevent.joinall([gevent.spawn(parse) for _ in range(2)], raise_error=True)
