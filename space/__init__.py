"""Search spaces: config types, Optuna ``suggest()``, Keras builders, fingerprints.

Importing this package registers the built-in spaces; TensorFlow is only
loaded when a model is built.
"""

from lce_nas.space import binarydensenet as _binarydensenet  # noqa: F401  (registers the space)
from lce_nas.space import birealnet as _birealnet  # noqa: F401  (registers the space)
from lce_nas.space import quicknet as _quicknet  # noqa: F401  (registers the space)
from lce_nas.space import realtobinary as _realtobinary  # noqa: F401  (registers the space)
from lce_nas.space.base import (
    ArchSummary,
    SearchSpace,
    get_space,
    list_spaces,
    plugin_failures,
    register_space,
    space_origin,
)

__all__ = [
    "ArchSummary",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "plugin_failures",
    "register_space",
    "space_origin",
]
