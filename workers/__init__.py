"""Ray workers: the proxy trainer, device workers that own their device, and datasets.

``Pool`` submits a candidate's training and its timing independently, so
several candidates' trainings and timings overlap.
"""

from lce_nas.workers.pool import Pool, WorkerFailure, failure_reason

__all__ = ["Pool", "WorkerFailure", "failure_reason"]
