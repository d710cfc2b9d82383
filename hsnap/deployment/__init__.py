"""hsnap on a Prefect server: ``setup`` (work pool, token block, deployments, automations),
``trigger`` (starting a deployment's run from code) and ``notify`` (webhook automations)."""
