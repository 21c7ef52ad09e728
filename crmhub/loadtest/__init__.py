"""Load with faults: the run command's stack under browsing users, a bulk act, a sync and
worker ``kill -9``s, checked for truthful final states and zero duplicates."""
