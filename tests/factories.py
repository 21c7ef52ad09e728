"""factory_boy factories shared by the tests (keep additions small)."""

from __future__ import annotations

import factory

from crmhub.connections.models import Connection


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A connection of a real kind (tests register a fake connector under that kind)."""

    class Meta:
        model = Connection

    name = factory.Sequence(lambda n: f"Connection {n}")
    kind = "allclients"
    base_url = "https://crm.example.com/api/"
    country = "US"
    allow_private_network = True
