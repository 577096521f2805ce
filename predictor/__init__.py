"""Latency prediction learned from the database's per-op profiles.

A model is split into the kernels its engine runs (after LCE's fusions); each
kernel's time is predicted from its shape, the sum is corrected per model, and
the interval comes from cross-validated errors. One predictor per latency key.
"""

from lce_nas.predictor.calibration import calibration_configs, op_count

__all__ = ["calibration_configs", "op_count"]
