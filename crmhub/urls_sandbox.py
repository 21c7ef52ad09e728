"""The URLs of a web process serving only the sandbox CRMs (``CRMHUB_WEB_ROLE=sandbox``).

The same ``/sandbox/<kind>/`` paths as in ``crmhub.urls``, and nothing of the console: the
process that ``scripts/run`` starts for the simulated CRMs answers their calls (an act's, a
sync's listing) and their Collect! Web Socket, off the console's processes.
"""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("sandbox/", include("crmhub.sandbox.urls"))]
