"""Prefect flows of hsnap: select servers, map tasks, collect states, report.

Inside the package so that an installed hsnap claims no generic top-level name; the checkout's
``flows/hsnap_flows.py`` re-exports them as the entrypoints of prefect.yaml.
"""
