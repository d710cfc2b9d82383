"""Getting servers back from their snapshots, and proving that the snapshots boot.

- ``policy``: pure decisions: the cheapest server type that fits an image, what a drill costs,
  which servers a drill proves first, which labels a restored or throwaway server gets, which
  servers a cleanup may delete.
- ``restore``: ``hsnap restore``: a new server from a snapshot, or a rebuild in place (after a
  safety snapshot), with every input checked before anything changes.
- ``replace_plan``, ``replace``, ``replace_wiring``: ``hsnap restore --replace``: a server that is
  gone, created again as its snapshot's recipe says, one report row per step, resumable.
- ``selection``: which servers a drill run proves, with which snapshot, on which server type.
- ``drill``: one restore drill: a labelled throwaway server from the newest snapshot, timed until
  it runs, always deleted; and the cleanup of drill servers that killed runs left behind.
- ``servers``: waiting for a created or rebuilt server to run, and for a deleted one to be gone.
- ``quarantine``: the copy of a server that cannot reach production nor be reached (``restore
  --as`` by default, every drill): no IPv4, no network, hsnap's labels, hsnap's firewall.
- ``addresses``: ``hsnap keep-addresses``: Primary IPs that outlive their servers.
- ``catalog``: a server's snapshots and Hetzner Backups with maker, retention reason, last proof.
- ``report``: the drill report's rows, verdict and summary.
"""
