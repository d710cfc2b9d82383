"""What hsnap tells the world: Prefect events for every outcome (``events``), and later the
freshness audit and what snapshots cost."""
