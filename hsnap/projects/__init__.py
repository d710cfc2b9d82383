"""Hetzner projects as Prefect blocks: one token per project, a fleet of them in one place.

Owns the ``HetznerProject`` block type (token, endpoint, default selector), reading a project's
settings from it, adding, listing and removing projects, and the per-project concurrency limit
that keeps one snapshot run per project at a time.
"""
