"""Optuna's storage that waits out a database restart instead of failing the search.

Every call of Optuna's RDB storage that fails because the server went away
(a PostgreSQL restart, a dropped connection) is retried until the server is
back, within a deadline. A trial finished by an attempt whose reply was lost
is not finished twice.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import optuna
from lce_nas.latency_db.connect import RETRY_DEADLINE_S, connection_lost

from lce_nas.errors import UserError

T = TypeVar("T")
log = logging.getLogger(__name__)

# The storage's public calls the search makes; each is one transaction.
_RETRIED = (
    "create_new_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "set_trial_param",
    "get_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
    "get_best_trial",
)


def _lost(error: BaseException) -> bool:
    cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) else error
    return cause is not None and connection_lost(cause)


def _patient(name: str, call: Callable[..., T], deadline_s: float) -> Callable[..., T]:
    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        started = time.monotonic()
        delay = 0.05
        interrupted = False
        while True:
            try:
                return call(*args, **kwargs)
            except optuna.exceptions.UpdateFinishedTrialError:
                if interrupted and name == "set_trial_state_values":
                    # The attempt the outage cut off did finish the trial.
                    return True  # type: ignore[return-value]
                raise
            except Exception as err:
                if not _lost(err):
                    raise
                if time.monotonic() - started > deadline_s:
                    raise UserError(
                        f"the database stayed unreachable for {deadline_s:.0f} s "
                        f"({type(err.__cause__ or err).__name__}); start it again and rerun "
                        "the same command to resume"
                    ) from err
                interrupted = True
                log.warning("database unreachable during %s; retrying", name)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)

    return wrapper


class PatientStorage(optuna.storages.RDBStorage):
    """An ``RDBStorage`` whose calls wait out a lost database connection.

    Example:
        >>> storage = PatientStorage("sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> optuna.load_study(study_name="quicknet-host", storage=storage)  # doctest: +SKIP
    """

    deadline_s = RETRY_DEADLINE_S

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in _RETRIED:
            return _patient(name, value, type(self).deadline_s)
        return value
