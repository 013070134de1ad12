"""``python -m patchkit.static``: see :mod:`patchkit.static`."""

import sys

from . import main

sys.exit(main())
