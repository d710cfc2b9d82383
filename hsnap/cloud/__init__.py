"""Talking to the Hetzner Cloud API: the only place that imports ``hcloud``.

``client`` holds the typed verbs and error translation, ``governor`` the per-project rate budget,
``watcher`` the batched action polls and ``waiting`` the deadline-owning wait loops built on them;
``ties`` what a server is tied to (firewalls, networks, Primary IPs, volumes, backups).
"""
