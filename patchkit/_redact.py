"""Secrets kept out of reports: the values of secret-looking arguments are redacted.

A report records the command lines it audited (the target's and every followed child's),
and reports are CI artifacts that many people read. As Sentry's data scrubbing does, the
*value* of anything whose name looks secret is replaced by ``[redacted]``, the name kept:

- ``--password=hunter2`` and ``--password hunter2`` (the next word);
- ``KEY=VALUE`` words and ``key=value`` pairs inside a word (a libpq DSN:
  ``"host=db password=x"``), when ``KEY`` looks secret;
- the password of a URL's userinfo, ``postgres://app:[redacted]@db/main``.

A name looks secret when one of its parts (split at ``-``, ``_`` and ``.``) is one of
:data:`SECRET_WORDS`, or ends with one (``dbpassword``). ``PATCHKIT_KEEP_ARGV=1`` in the
environment keeps command lines whole (``python -m patchkit.audit --keep-argv`` sets it
for the audited process and its children).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

__all__ = ["REDACTED", "SECRET_WORDS", "KEEP_ENV", "redact_argv", "redact_command",
           "looks_secret"]

REDACTED = "[redacted]"
KEEP_ENV = "PATCHKIT_KEEP_ARGV"
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "secret", "token", "key", "apikey", "credential",
    "credentials", "auth", "authorization", "cookie", "sessionid", "dsn",
})
# Parts that end a secret name without being split off ("dbpassword", "authtoken").
_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "credential", "credentials")
_PAIR = re.compile(r"(?P<name>[A-Za-z_][\w.-]*)=(?P<value>[^\s&;]*)")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@")


def looks_secret(name: str) -> bool:
    """Whether an option, variable or key *name* looks like it names a secret."""
    name = name.lstrip("-").lower()
    if not name:
        return False
    parts = re.split(r"[-_.]", name)
    return any(part in SECRET_WORDS for part in parts) or name.endswith(_SUFFIXES)


def _redact_word(word: str) -> str:
    word = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", word)
    if word.startswith("-") and "=" in word:
        name, _, value = word.partition("=")
        if looks_secret(name) and value:
            return f"{name}={REDACTED}"
    return _PAIR.sub(lambda m: f"{m['name']}={REDACTED}"
                     if looks_secret(m["name"]) and m["value"] else m[0], word)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """*argv* with the values of secret-looking arguments replaced (idempotent).

    The first word (the program) is kept as it is, but for a URL's password.
    """
    if os.environ.get(KEEP_ENV) == "1":
        return [str(word) for word in argv]
    out: list[str] = []
    secret_next = False
    for index, word in enumerate(str(w) for w in argv):
        if secret_next and not word.startswith("-"):
            out.append(REDACTED)
            secret_next = False
            continue
        secret_next = (index > 0 and word.startswith("--") and "=" not in word
                       and not word.startswith("--no-") and looks_secret(word))
        out.append(_redact_word(word))
    return out


def redact_command(command: str) -> str:
    """A shell-quoted command line with :func:`redact_argv` applied to its words."""
    if os.environ.get(KEEP_ENV) == "1":
        return command
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: redact word by word as it stands
        return " ".join(_redact_word(word) for word in command.split(" "))
    redacted = redact_argv(["", *words])[1:]
    return command if redacted == words else shlex.join(redacted)
