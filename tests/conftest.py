"""Shared test set-up: quiet TensorFlow and Keras 2 before anything imports them."""

import lce_nas  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
