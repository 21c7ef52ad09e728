"""The console's fixtures (a connection per CRM, Ann Lee in each), shared with these tests."""

from tests.console.conftest import ann, connections  # noqa: F401 (fixtures)
