"""python -m tools.mleap_jvm fetch: MLeap's runtime jars and the compiled harness, into the cache."""

import sys

from . import fetch

if sys.argv[1:] != ["fetch"]:
    sys.exit("usage: python -m tools.mleap_jvm fetch")
fetch()
