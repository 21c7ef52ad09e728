"""Load with faults: the run command's stack under browsing users, a bulk act, a sync and
worker ``kill -9``s, checked for truthful final states and zero duplicates.

``section.py`` is the ``load`` section of ``manage.py bench``; ``run.py`` runs the load
(also for ``tests/integration/test_load.py``), ``stack.py`` starts the product's
processes and ``users.py`` drives the browsing users.
"""
