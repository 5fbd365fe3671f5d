"""One module per op family; importing this package registers every op with the registry."""

from . import (  # noqa: F401
    pipeline,
    regression_linear,
    feature_assemble,
)
