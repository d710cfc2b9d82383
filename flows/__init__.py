"""Prefect flows of hsnap: select servers, map tasks, collect states, report."""
