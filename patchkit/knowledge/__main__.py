"""``python -m patchkit.knowledge``: see :mod:`patchkit.knowledge.cli`."""

import sys

from .cli import main

sys.exit(main())
