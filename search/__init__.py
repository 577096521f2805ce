"""The search: the Optuna study loop, Pareto fronts and hypervolume, and export."""
