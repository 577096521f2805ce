"""lce-nas: neural architecture search for BNNs driven by measured LCE latency.

The import package gathers the domain folders as subpackages:
``lce_nas.space`` (search spaces), ``lce_nas.engine`` (conversion and latency
measurement), ``lce_nas.latency_db`` (the measurement store), ``lce_nas.workers``
(Ray workers) and ``lce_nas.search`` (the study loop, fronts, export). Beside
the CLI and settings, this folder holds what they all share: errors, canonical
JSON and the one retry policy (``lce_nas.retry``).
"""

import os as _os

# larq needs Keras 2: this must be set before anything imports TensorFlow,
# and every entry point imports this package first.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter hides the tool's own output; the CLI's
# --verbose lowers this before TensorFlow is imported.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
