"""The contact sync: copy each connection's remote contact list into the local index.

``contacts.services`` holds the entry points (``sync_request``, ``contacts_sync``,
``syncs_dispatch``); the engine is here, each module depending only on those below it:

- ``schedule``: which connections are due a sync (beat's dispatcher), and the reaper of
  runs whose worker died.
- ``runs``: the life of a ``SyncRun``, from its request to its ending (or a retry).
- ``lease``: a running sync's lease, claimed and renewed.
- ``passes``: one pass over the remote listing, a transaction per batch of pages.
- ``prefetch``: the threads that fetch and prepare the next pages during the writes.
- ``pages``: what writing pages does (new, changed, unchanged, repeated; what was missed).
- ``writer``: the bulk statements that write the index.
- ``rows``: one remote contact as the values of its index row, with a content hash.
"""
