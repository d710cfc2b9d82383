"""What hsnap tells the world: Prefect events for every outcome (``events``), the freshness audit
(``audit``, ``audit_report``) and what snapshots cost (``cost``)."""
