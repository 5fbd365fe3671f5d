"""The ``pipeline`` op: children run in the order of the ``nodes`` attribute.

Pipelines hold no math; the plan (leapserve/runtime/plan.py) flattens them into their leaf stages
when it compiles a bundle. The loader is registered so that the op is listed like any other.
"""

from ..errors import BundleError
from ..registry import op


@op("pipeline", family="pipeline")
def load_pipeline(node):
    """Nested pipelines (flattened by the plan at load time)."""
    raise BundleError("pipelines are flattened by the plan, not loaded as stages", path=node.where())
