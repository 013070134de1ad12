"""bcrypt: a password hash is ~0.15 s of C work per call, and it holds the hub meanwhile."""
import patchkit

patchkit.patch_all()

import bcrypt  # noqa: E402
import gevent  # noqa: E402

SALT = bcrypt.gensalt(rounds=11)


def login(password):
    return bcrypt.hashpw(password, SALT)


gevent.joinall([gevent.spawn(login, b"secret%d" % i) for i in range(2)], raise_error=True)
