"""Start-up hook of test child processes: see :mod:`training_failures` (tests only)."""

import training_failures

training_failures.install_from_env()
