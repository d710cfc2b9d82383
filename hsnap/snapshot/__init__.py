"""Taking snapshots: one server's snapshot (``take``), consistent mode and recovery of servers an
interrupted run left off (``power``), and the run report (``report``)."""
