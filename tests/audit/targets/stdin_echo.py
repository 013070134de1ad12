"""Reads stdin and writes it back upper-cased: the auditor must leave both streams alone."""
import sys

import patchkit

patchkit.patch_all()

sys.stdout.write(sys.stdin.read().upper())
