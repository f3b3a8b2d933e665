"""The hub side of the TRE: the spawners (``isolation`` for every server, ``spawner`` for
project sessions), their sandbox, network namespaces, cgroups and accounts, and sign-in."""

DATA_SERVICE = "wgs-tre-data"  # the data service's name in the hub: its URL prefix and scope
