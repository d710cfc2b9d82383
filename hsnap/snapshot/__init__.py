"""Taking snapshots: one server's snapshot (``take``), consistent mode and recovery of servers an
interrupted run left off (``power``), the run report (``report``), and the recipe each snapshot
carries to become its server again (``recipe``, read once per run by ``recipe_read``)."""
