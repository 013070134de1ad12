"""orjson: serializing a large document is C work that holds the hub."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402
import orjson  # noqa: E402

rows = [{"id": i, "name": f"row {i}", "tags": ["a", "b"], "score": i / 7} for i in range(800_000)]


def render():
    return len(orjson.dumps(rows))


gevent.joinall([gevent.spawn(render) for _ in range(3)], raise_error=True)
