"""The central store: the system of record (store/), its HTTP API (api/) and the connectors to the library
system behind it (upstream/). Runs at the central store; the staff station uses store/ and upstream/ too."""
