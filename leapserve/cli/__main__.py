"""python -m leapserve.cli: the `leapserve` command (what the console script runs)."""

import sys

from . import main

sys.exit(main())
