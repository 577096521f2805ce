"""Search spaces: config types, Optuna ``suggest()``, Keras builders, fingerprints."""
