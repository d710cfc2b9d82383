"""Prefect tasks of hsnap: thin, typed adapters over the hsnap core."""
