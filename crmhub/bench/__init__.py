"""Benchmarks and the load harness of crmhub (``manage.py bench``), kept out of the product.

Each section measures one thing on data it creates (``search``, ``sync``, ``memory``,
``fanout``, ``pages``, ``matching``, ``load``; registered in ``sections.py``). The
helpers that start crmhub's processes and reach its sandbox CRMs (``processes.py``,
``sandboxes.py``) are shared with the tests. The product's apps never import this package.
"""
