"""What hsnap tells the world: Prefect events for every outcome (``events``), the freshness audit
(``audit``, ``audit_report``), what snapshots do not cover (``coverage``) and what snapshots
cost (``cost``)."""
