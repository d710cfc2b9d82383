"""Keeping and pruning snapshots: the pure retention planner (``policy``) and pruning of only the
images hsnap made (``prune``)."""
