"""Permission matrix (S16): every URL of the URLconf x every role, by GET and by direct POST.

``POLICY`` names, for every route, the lowest role that may GET it and the lowest role that
may POST to it, and what an allowed request answers. Each (route, role, method) is one test:

* allowed: the answer is one the rule names (never a sign-in redirect, a 403 or an
  unexpected 405) and it shows no connection secret;
* denied: an anonymous visitor is sent to the sign-in page (the admin's under /admin/), a
  signed-in user without the role gets 403 (the admin sends users who are not staff to its
  sign-in page);
* the database changes, or a task is queued, only when an allowed role POSTs to a route
  whose rule ``acts``: no denied POST and no viewer POST ever creates an Action, Batch or
  SyncRun, answers or cancels an action, or touches a connection.

The roles are a ladder (anonymous < viewer < operator < admin < superuser); ``NOBODY``
means every role is refused (read-only admin pages). A route added to the URLconf without a
rule here fails ``test_every_route_has_a_rule``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction
from django.test import Client

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.selectors import targets_digest
from crmhub.connections.kinds import KINDS
from crmhub.connections.models import Connection
from crmhub.connections.services import connection_save
from crmhub.contacts.matching.corrections import person_join
from crmhub.contacts.models import (
    Contact,
    ContactKey,
    MatchCorrection,
    MatchCorrectionContact,
    Person,
    SyncRun,
)
from crmhub.core import roles
from crmhub.sandbox.models import Call, Fault
from tests.console.conftest import KIND_SETTINGS, RECORD_TYPES, index, make_action, remote
from tests.factories import ConnectionFactory
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db(databases="__all__")

# -- roles ---------------------------------------------------------------------------------------
ANONYMOUS, VIEWER, OPERATOR, ADMIN, SUPERUSER = ROLES = (
    "anonymous",
    "viewer",
    "operator",
    "admin",
    "superuser",
)
NOBODY = "nobody"
RANK = {**{role: rank for rank, role in enumerate(ROLES)}, NOBODY: len(ROLES)}
#: The admin site's users: only these are staff (is_staff alone grants nothing else).
STAFF = (ADMIN, SUPERUSER)


@dataclass(frozen=True)
class Rule:
    """Who may GET / POST a route, and what an allowed request answers."""

    get: str
    post: str
    get_ok: tuple[int, ...] = (200,)
    post_ok: tuple[int, ...] = (200,)
    #: An allowed POST (with the body ``request_for`` gives) changes the database or queues
    #: a task; no other request may.
    acts: bool = False
    #: A signed-in user below the role is refused with these (the admin's app index: 404).
    refused: tuple[int, ...] = (403,)
    #: Where a refused visitor is sent instead of the sign-in page (the admin's sign-out).
    refused_to: str = ""


def page(role: str = VIEWER, *, get_ok: tuple[int, ...] = (200,)) -> Rule:
    """A GET-only page: a POST passes the same sign-in and role checks, then gets 405."""
    return Rule(role, role, get_ok=get_ok, post_ok=(405,))


def act(role: str = OPERATOR, *, post_ok: tuple[int, ...] = (302,)) -> Rule:
    """A POST-only act: a GET passes the same checks, then gets 405; a POST acts."""
    return Rule(role, role, get_ok=(405,), post_ok=post_ok, acts=True)


CONSOLE: dict[str, Rule] = {
    "": page(),
    "contacts/": page(),
    "contacts/<int:pk>/": page(get_ok=(302,)),  # the record's person page
    "people/<int:pk>/": page(),
    # corrections of person matching: operators split, join and undo
    "contacts/<int:pk>/split/": act(),
    "contacts/<int:pk>/join/": act(),
    "corrections/<int:pk>/undo/": act(),
    # act forms: operators open them (GET) and submit them (POST queues an Action)
    "contacts/<int:pk>/act/<slug:operation>/": Rule(OPERATOR, OPERATOR, post_ok=(302,), acts=True),
    "connections/<int:pk>/act/<slug:operation>/": Rule(
        OPERATOR, OPERATOR, post_ok=(302,), acts=True
    ),
    # read regions: everyone reads the latest result, operators ask the CRM again
    # (286: the region is final, htmx stops polling it)
    "contacts/<int:pk>/reads/<slug:operation>/": Rule(
        VIEWER, OPERATOR, get_ok=(200, 286), acts=True
    ),
    "connections/<int:pk>/reads/<slug:operation>/": Rule(
        VIEWER, OPERATOR, get_ok=(200, 286), acts=True
    ),
    "bulk/": Rule(OPERATOR, OPERATOR, post_ok=(302,), acts=True),
    "bulk/<int:pk>/": page(),
    "bulk/<int:pk>/failures.csv": page(),
    # bulk control: operators stop a run, and retry what did not work (list, then confirm)
    "bulk/<int:pk>/cancel/": act(),
    "bulk/<int:pk>/retry/": Rule(OPERATOR, OPERATOR, post_ok=(302,), acts=True),
    "actions/": page(),
    "actions/<int:pk>/": page(),
    "actions/<int:pk>/resend/": act(),
    "actions/<int:pk>/cancel/": act(),
    "actions/<int:pk>/answer/": act(),
    # closing the loop on an unknown outcome: record what was found, or ask the CRM (a read)
    "actions/<int:pk>/checked/": act(),
    "actions/<int:pk>/check/": act(),
    "connections/": page(),
    "connections/<int:pk>/": page(),
    "connections/<int:pk>/queue/": page(),
    "queue/": page(),  # the one CRM.COM connection's queue (a list when there are several)
    # each user's own settings (the zone of their times): anyone signed in
    "profile/": Rule(VIEWER, VIEWER, post_ok=(302,)),
    # connection management: admins only (sync now, test the credentials)
    "connections/<int:pk>/sync/": act(ADMIN),
    "connections/<int:pk>/check/": act(ADMIN),
}

SIGN_IN: dict[str, Rule] = {
    "login/": Rule(ANONYMOUS, ANONYMOUS, get_ok=(200, 302), post_ok=(200, 302)),
    "logout/": Rule(ANONYMOUS, ANONYMOUS, get_ok=(405,), post_ok=(302,)),
    # browsers ask every site for it: sent on to the static icon
    "favicon.ico": Rule(ANONYMOUS, ANONYMOUS, get_ok=(301,), post_ok=(405,)),
}

ADMIN_SITE: dict[str, Rule] = {
    "admin/": Rule(ADMIN, ADMIN),
    "admin/login/": Rule(ANONYMOUS, ANONYMOUS, get_ok=(200, 302)),
    # signing out of the admin ends the session (to the console's sign-in page)
    "admin/logout/": Rule(ADMIN, ADMIN, get_ok=(405,), post_ok=(302,), refused_to="/admin/"),
    "admin/password_change/": Rule(ADMIN, ADMIN),
    "admin/password_change/done/": page(ADMIN),
    # no model admin uses autocomplete_fields: every query is refused, a POST is 405
    "admin/autocomplete/": Rule(NOBODY, ADMIN, post_ok=(405,)),
    "admin/jsi18n/": page(ADMIN),
    # "view on site": no model has a public URL
    "admin/r/<path:content_type_id>/<path:object_id>/": Rule(
        ADMIN, ADMIN, get_ok=(404,), post_ok=(404,)
    ),
    "admin/(?P<url>.*)$": Rule(ADMIN, ADMIN, get_ok=(404,), post_ok=(404,)),
    "admin/auth/user/<id>/password/": Rule(SUPERUSER, SUPERUSER),
    # where history forbids a delete, the admin offers "deactivate" (POST only)
    "admin/connections/connection/<path:object_id>/deactivate/": Rule(
        ADMIN, ADMIN, get_ok=(405,), post_ok=(302,), acts=True
    ),
    "admin/auth/user/<path:object_id>/deactivate/": Rule(
        SUPERUSER, SUPERUSER, get_ok=(405,), post_ok=(302,), acts=True
    ),
}


@dataclass(frozen=True)
class ModelRule:
    """The lowest role for each admin page of one model (``change`` is saving the form)."""

    view: str
    add: str
    change: str
    delete: str
    #: Saving the change form without any field saves it (every field is read-only).
    saves_empty: bool = False


#: Users, groups and the sign-in logs: superusers. Connections (credentials): admins.
#: The audit and index lists: read-only for admins, nobody changes them.
ADMIN_MODELS: dict[str, ModelRule] = {
    "auth/group": ModelRule(SUPERUSER, SUPERUSER, SUPERUSER, SUPERUSER),
    "auth/user": ModelRule(SUPERUSER, SUPERUSER, SUPERUSER, SUPERUSER),
    "axes/accessattempt": ModelRule(SUPERUSER, NOBODY, SUPERUSER, SUPERUSER, saves_empty=True),
    "axes/accesslog": ModelRule(SUPERUSER, NOBODY, SUPERUSER, SUPERUSER, saves_empty=True),
    "axes/accessfailurelog": ModelRule(SUPERUSER, NOBODY, SUPERUSER, SUPERUSER, saves_empty=True),
    "connections/connection": ModelRule(ADMIN, ADMIN, ADMIN, ADMIN),
    "contacts/contact": ModelRule(ADMIN, NOBODY, NOBODY, NOBODY),
    "contacts/person": ModelRule(ADMIN, NOBODY, NOBODY, NOBODY),
    "contacts/syncrun": ModelRule(ADMIN, NOBODY, NOBODY, NOBODY),
    "actions/action": ModelRule(ADMIN, NOBODY, NOBODY, NOBODY),
    "actions/batch": ModelRule(ADMIN, NOBODY, NOBODY, NOBODY),
    "sandbox/fault": ModelRule(SUPERUSER, SUPERUSER, SUPERUSER, SUPERUSER),
    "sandbox/call": ModelRule(SUPERUSER, NOBODY, NOBODY, NOBODY),
    "admin/logentry": ModelRule(SUPERUSER, NOBODY, NOBODY, NOBODY),
}


def _model_rules(model: str, rule: ModelRule) -> dict[str, Rule]:
    base = f"admin/{model}/"
    return {
        base: Rule(rule.view, rule.view),
        base + "add/": Rule(rule.add, rule.add),
        base + "<path:object_id>/history/": Rule(rule.view, rule.view),
        base + "<path:object_id>/delete/": Rule(rule.delete, rule.delete),
        # the change page: read-only for who may view, saved by who may change
        base + "<path:object_id>/change/": Rule(
            rule.view,
            rule.change,
            post_ok=(302,) if rule.saves_empty else (200,),
            acts=rule.saves_empty,
        ),
        # the old URL of the change page: a redirect for any staff
        base + "<path:object_id>/": Rule(ADMIN, ADMIN, get_ok=(302,), post_ok=(302,)),
    }


#: The admin index of each app: shown to staff who may see one of its models (else 404).
APP_INDEX = "admin/^(?P<app_label>auth|axes|admin|connections|contacts|actions|sandbox)/$"
ADMIN_SITE[APP_INDEX] = Rule(ADMIN, ADMIN, refused=(404,))
for _model, _rule in ADMIN_MODELS.items():
    ADMIN_SITE.update(_model_rules(_model, _rule))


def remote_api(get_ok: int, post_ok: int) -> Rule:
    """A simulated CRM's end point: the same answer whoever is signed in to the console.

    The simulated CRMs (on unless CRMHUB_SANDBOX=0, off in production) stand in for remote
    APIs: no console sign-in, their own credentials, which these requests do not carry.
    """
    return Rule(ANONYMOUS, ANONYMOUS, get_ok=(get_ok,), post_ok=(post_ok,))


_CRMCOM = "sandbox/crmcom/crmapi/rest/v2/"
SANDBOX: dict[str, Rule] = {
    # AllClients: POST only; a missing key is a 200 with an <error> (as the vendor does)
    **{
        f"sandbox/allclients/api/2/{method}.aspx": remote_api(405, 200)
        for method in (
            "GetContacts",
            "GetCategories",
            "RunActionSet",
            "AddContactLink",
            "GetContactLinks",
        )
    },
    "sandbox/apptivo/app/dao/v6/customers": remote_api(200, 200),
    "sandbox/collect/api/v1/auth/login": remote_api(405, 400),
    "sandbox/collect/api/v1/collect/app/runplan": remote_api(405, 401),
    "sandbox/collect/api/v1/collect/data/<str:table>": remote_api(401, 405),
    "sandbox/collect/api/v1/collect/data/<str:table>/<str:rowid>": remote_api(401, 405),
    **{
        _CRMCOM + path: remote_api(405, 200)
        for path in (
            "authentication/token",
            "authentication/token/release",
            "communications/create",
            "communications/update",
            "communications/complete",
            "communications/set_as_viewed",
            "communications/queue/process",
            "communications/queue/reject",
            "communications/queue/remove",
        )
    },
    **{
        _CRMCOM + path: remote_api(200, 405)
        for path in (
            "contact_information/show",
            "contact_information/list",
            "communications/show",
            "communications/list",
            "communications/queue/show",
            "communications/queue/list",
            "communications/queue/get_latest",
            "communications/queue/get_pending_completed",
        )
    },
}

POLICY: dict[str, Rule] = {
    **CONSOLE,
    **SIGN_IN,
    **ADMIN_SITE,
    **(SANDBOX if settings.CRMHUB_SANDBOX else {}),
}


# -- the world every request runs against ----------------------------------------------------
@dataclass
class World:
    """The objects every page needs (built once per module) and a signed-in session per role."""

    users: dict[str, User]
    sessions: dict[str, str]
    conns: dict[str, Connection]
    contacts: dict[str, Contact]
    canaries: list[str]
    ids: dict[str, int] = field(default_factory=dict)
    answerable: dict[str, int] = field(default_factory=dict)
    #: One client per role, reused: a new client loads the middleware again (WhiteNoise
    #: scans every static file then), which would make the matrix several times slower.
    clients: dict[str, Client] = field(default_factory=dict)

    def client(self, role: str) -> Client:
        """Return ``role``'s client, holding only its session cookie (a sign-out clears it)."""
        client = self.clients.setdefault(role, Client())
        client.cookies.clear()
        if role != ANONYMOUS:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
        return client


REMOTE_IDS = {"allclients": "501", "apptivo": "9001", "collect": "debtor:77", "crmcom": "C-1"}


def _canaries(kind: str) -> dict[str, str]:
    return {spec.name: f"canary-{kind}-{spec.name}-7f3a9c" for spec in KINDS[kind].secret_fields}


def _build() -> World:
    users = {
        VIEWER: _user("pm-viewer", roles.VIEWER),
        OPERATOR: _user("pm-operator", roles.OPERATOR),
        ADMIN: _user("pm-admin", roles.ADMIN, is_staff=True),
        SUPERUSER: User.objects.create_superuser("pm-root", "root@example.com", "pw"),
    }
    sessions = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    conns, canaries = {}, []
    for kind, kind_settings in KIND_SETTINGS.items():
        secrets = _canaries(kind)
        canaries += secrets.values()
        connection = ConnectionFactory.build(name=f"Matrix {kind}", kind=kind)
        conns[kind] = connection_save(
            connection=connection, settings=kind_settings, new_secrets=secrets
        )
    email = "ann.lee@example.com"  # the same person in every CRM
    contacts = {}
    for kind, remote_id in REMOTE_IDS.items():
        record = remote(remote_id, "Ann", "Lee", email=email, record_type=RECORD_TYPES[kind])
        (contacts[kind],) = index(conns[kind], [record])
    for contact in contacts.values():
        contact.refresh_from_db()
    ann = contacts["allclients"]
    world = World(users, sessions, conns, contacts, canaries)
    # strangers: two joined by staff (a correction to undo), one alone (to join with Ann)
    (zed,) = index(conns["apptivo"], [remote("9100", "Zed", "Roe", email="zed@example.com")])
    (yan,) = index(conns["collect"], [remote("debtor:80", "Yan", "Roe", record_type="debtor")])
    (xi,) = index(conns["crmcom"], [remote("C-9", "Xi", "Roe", email="xi@example.com")])
    world.ids["correction"] = person_join(contact=zed, other=yan, user=users[OPERATOR]).pk
    world.ids["lone"] = xi.pk
    link = {"url": "https://example.com/a", "label": "Statement", "contact_remote_id": "501"}
    world.ids["failed"] = make_action(
        conns["allclients"], "add_contact_link", contact=ann, state=Action.State.FAILED, params=link
    ).pk
    world.ids["queued"] = make_action(
        conns["allclients"], "run_action_set", contact=ann, state=Action.State.QUEUED
    ).pk
    prompt = {"prompt_id": "P1", "message": "How much?", "fields": [{"name": "amount"}]}
    for role in (VIEWER, OPERATOR, ADMIN, SUPERUSER):
        world.answerable[role] = make_action(
            conns["collect"],
            "run_plan",
            contact=contacts["collect"],
            state=Action.State.NEEDS_INPUT,
            user=users[role],
            prompt=prompt,
        ).pk
    world.answerable[ANONYMOUS] = world.answerable[OPERATOR]
    batch = Batch.objects.create(
        operation="run_action_set",
        connection=conns["allclients"],
        size=2,
        params={"action_set_name": "Welcome Series", "identify_method": 1},
    )
    world.ids["batch"] = batch.pk
    in_batch = {**batch.params, "contact_remote_id": "501"}
    for state in (Action.State.QUEUED, Action.State.FAILED):  # one to cancel, one to retry
        failed_in_batch = make_action(
            conns["allclients"], "run_action_set", contact=ann, state=state, batch=batch,
            params=in_batch,
        )  # fmt: skip
    world.ids["batch_failed"] = failed_in_batch.pk
    world.ids["unknown"] = make_action(
        conns["apptivo"],
        "create_customer",
        state=Action.State.UNKNOWN,
        params={"customer_name": "Zed Quartermain"},
    ).pk
    world.ids["syncrun"] = SyncRun.objects.create(
        connection=conns["allclients"], mode=SyncRun.Mode.FULL, state=SyncRun.State.SUCCEEDED
    ).pk
    # rows for the admin pages of the sign-in logs and of the simulated CRMs
    failure = {"user_agent": "pytest", "ip_address": "127.0.0.1", "username": "x", "path_info": "/"}
    world.ids["accessattempt"] = AccessAttempt.objects.create(
        **failure, http_accept="*/*", get_data="", post_data="", failures_since_start=1
    ).pk
    world.ids["accessfailurelog"] = AccessFailureLog.objects.create(**failure, http_accept="*/*").pk
    world.ids["accesslog"] = AccessLog.objects.order_by("pk").first().pk  # the sign-ins above
    world.ids["fault"] = Fault.objects.create(kind="apptivo").pk
    world.ids["call"] = Call.objects.create(kind="apptivo", operation="customers").pk
    world.ids["logentry"] = LogEntry.objects.create(
        user=users[SUPERUSER], object_repr="a connection", action_flag=1, change_message="[]"
    ).pk
    return world


def _user(username: str, role: str, **flags: bool) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, **flags)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """Build the objects once for the module, inside a transaction rolled back at its end.

    Each test runs in a savepoint of it (pytest-django's ``TestCase``), so what a request
    changes is undone after the test and the next test sees the same world.
    """
    aliases = list(settings.DATABASES)
    with django_db_blocker.unblock():
        blocks = [transaction.atomic(using=alias) for alias in aliases]
        for block in blocks:
            block.__enter__()
        try:
            yield _build()
        finally:
            for alias in aliases:
                transaction.set_rollback(True, using=alias)
            for block in reversed(blocks):
                block.__exit__(None, None, None)
            for alias in aliases:
                connections[alias].close()


# -- requests -----------------------------------------------------------------------------------
def _admin_pk(model: str, world: World) -> int:
    """Return the id of an existing row of the admin's ``model`` ("app/model")."""
    ids = {
        "auth/group": Group.objects.get(name=roles.VIEWER).pk,
        "auth/user": world.users[VIEWER].pk,
        "connections/connection": world.conns["allclients"].pk,
        "contacts/contact": world.contacts["allclients"].pk,
        "contacts/person": world.contacts["allclients"].person_id,
        "contacts/syncrun": world.ids["syncrun"],
        "actions/action": world.ids["failed"],
        "actions/batch": world.ids["batch"],
        "axes/accessattempt": world.ids["accessattempt"],
        "axes/accessfailurelog": world.ids["accessfailurelog"],
        "axes/accesslog": world.ids["accesslog"],
        "sandbox/fault": world.ids["fault"],
        "sandbox/call": world.ids["call"],
        "admin/logentry": world.ids["logentry"],
    }
    assert model in ids, f"no sample row for the admin of {model}: add one to _admin_pk()"
    return ids[model]


def request_for(route: str, role: str, world: World) -> tuple[str, dict[str, Any]]:
    """Return the URL that exercises ``route`` as ``role``, and the body a POST sends."""
    conns, contacts, ids = world.conns, world.contacts, world.ids
    ann = contacts["allclients"]
    console: dict[str, tuple[str, dict[str, Any]]] = {
        "contacts/<int:pk>/": (f"/contacts/{ann.pk}/", {}),
        "people/<int:pk>/": (f"/people/{ann.person_id}/", {}),
        "contacts/<int:pk>/split/": (
            f"/contacts/{contacts['crmcom'].pk}/split/",
            {"reason": "Another Ann"},
        ),
        "contacts/<int:pk>/join/": (
            f"/contacts/{ann.pk}/join/",
            {"other": f"c{ids['lone']}", "reason": "Same person"},
        ),
        "corrections/<int:pk>/undo/": (f"/corrections/{ids['correction']}/undo/", {}),
        "contacts/<int:pk>/act/<slug:operation>/": (
            f"/contacts/{ann.pk}/act/run_action_set/",
            {"action_set_id": "101", "identify_method": "1"},
        ),
        "contacts/<int:pk>/reads/<slug:operation>/": (
            f"/contacts/{contacts['crmcom'].pk}/reads/communications_list/",
            {},
        ),
        "connections/<int:pk>/act/<slug:operation>/": (
            f"/connections/{conns['crmcom'].pk}/act/queue_reject/",
            {"queue_entry": "QE1", "error_code": "BOUNCE", "error_description": "No mailbox"},
        ),
        "connections/<int:pk>/reads/<slug:operation>/": (
            f"/connections/{conns['apptivo'].pk}/reads/get_config/",
            {},
        ),
        "bulk/": (
            "/bulk/",
            {
                "pick": f"p{ann.person_id}.{ann.pk}",
                "act": f"{conns['allclients'].pk}:run_action_set",
                "action_set_name": "Welcome Series",
                "targets": targets_digest([ann.pk]),
            },
        ),
        "bulk/<int:pk>/": (f"/bulk/{ids['batch']}/", {}),
        "bulk/<int:pk>/failures.csv": (f"/bulk/{ids['batch']}/failures.csv", {}),
        "actions/<int:pk>/": (f"/actions/{ids['failed']}/", {}),
        "actions/<int:pk>/resend/": (f"/actions/{ids['failed']}/resend/", {}),
        "actions/<int:pk>/cancel/": (f"/actions/{ids['queued']}/cancel/", {}),
        "bulk/<int:pk>/cancel/": (f"/bulk/{ids['batch']}/cancel/", {}),
        "bulk/<int:pk>/retry/": (
            f"/bulk/{ids['batch']}/retry/",
            {"targets": targets_digest([ids["batch_failed"]])},
        ),
        "actions/<int:pk>/checked/": (
            f"/actions/{ids['unknown']}/checked/",
            {"verdict": "not_happened", "note": "Not in Apptivo"},
        ),
        "actions/<int:pk>/check/": (f"/actions/{ids['unknown']}/check/", {}),
        "actions/<int:pk>/answer/": (
            f"/actions/{world.answerable[role]}/answer/",
            {"answer-amount": "10", "prompt_id": "P1"},
        ),
        "connections/<int:pk>/": (f"/connections/{conns['allclients'].pk}/", {}),
        "connections/<int:pk>/sync/": (f"/connections/{conns['allclients'].pk}/sync/", {}),
        "connections/<int:pk>/check/": (f"/connections/{conns['allclients'].pk}/check/", {}),
        "connections/<int:pk>/queue/": (f"/connections/{conns['crmcom'].pk}/queue/", {}),
        APP_INDEX: ("/admin/contacts/", {}),
        "admin/(?P<url>.*)$": ("/admin/no-such-page/", {}),
        "sandbox/collect/api/v1/collect/data/<str:table>": (
            "/sandbox/collect/api/v1/collect/data/debtor",
            {},
        ),
        "sandbox/collect/api/v1/collect/data/<str:table>/<str:rowid>": (
            "/sandbox/collect/api/v1/collect/data/debtor/1",
            {},
        ),
        "admin/auth/user/<id>/password/": (
            f"/admin/auth/user/{world.users[VIEWER].pk}/password/",
            {},
        ),
        "admin/r/<path:content_type_id>/<path:object_id>/": (
            f"/admin/r/{ContentType.objects.get_for_model(Connection).pk}/"
            f"{conns['allclients'].pk}/",
            {},
        ),
    }
    if route in console:
        return console[route]
    found = re.match(r"admin/(\w+/\w+)/<path:object_id>/", route)
    if found:
        return "/" + route.replace("<path:object_id>", str(_admin_pk(found[1], world))), {}
    assert "<" not in route, f"no sample values for {route!r}: add them to request_for()"
    return "/" + route, {}


# -- what a request may change ---------------------------------------------------------------
WATCHED = (
    Action,
    Attempt,
    Batch,
    SyncRun,
    Connection,
    Contact,
    ContactKey,
    Person,
    MatchCorrection,
    MatchCorrectionContact,
    User,
    User.groups.through,
    Group,
    Group.permissions.through,
    LogEntry,
)


def fingerprint() -> tuple[Any, ...]:
    """Return the row counts of the watched tables and the state of actions, syncs, connections.

    One query for the counts: the matrix takes a fingerprint before and after every request.
    """
    quote = connections["default"].ops.quote_name
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in WATCHED)
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT {counts}")  # table names from the models, no input
        row = cursor.fetchone()
    return (
        tuple(row),
        tuple(Action.objects.order_by("pk").values_list("pk", "state", "updated_at", "answer")),
        tuple(SyncRun.objects.order_by("pk").values_list("pk", "state")),
        tuple(MatchCorrection.objects.order_by("pk").values_list("pk", "undone_at")),
        tuple(Contact.objects.order_by("pk").values_list("pk", "person_id")),
        tuple(
            Connection.objects.order_by("pk").values_list(
                "pk", "secrets_ciphertext", "settings", "updated_at", "health", "is_active"
            )
        ),
    )


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _sign_in_page(route: str) -> str:
    return "/admin/login/" if route.startswith("admin/") else "/login/"


def _is_sign_in_redirect(response: Any, route: str) -> bool:
    location = response.get("Location", "")
    return response.status_code == 302 and location.startswith(_sign_in_page(route) + "?next=")


def _expect_refused(route: str, role: str, response: Any) -> None:
    """Anonymous (and, in the admin, non-staff): to sign in; others: the rule's refusal."""
    rule = POLICY[route]
    answer = (response.status_code, response.get("Location"))
    if rule.refused_to and role not in STAFF:
        assert answer == (302, rule.refused_to)
    elif role == ANONYMOUS or (route.startswith("admin/") and role not in STAFF):
        assert _is_sign_in_redirect(response, route), answer
    else:
        assert response.status_code in rule.refused, answer


CASES = [
    pytest.param(route, role, method, id=f"{method}-{role}-/{route}")
    for route in sorted(POLICY)
    for role in ROLES
    for method in ("GET", "POST")
]


@pytest.mark.parametrize(("route", "role", "method"), CASES)
def test_permission_matrix(world, route, role, method, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    rule = POLICY[route]
    url, data = request_for(route, role, world)
    client = world.client(role)
    before = fingerprint()
    with django_capture_on_commit_callbacks() as queued:
        response = client.get(url) if method == "GET" else client.post(url, data)
    changed = fingerprint() != before or bool(queued)
    allowed = RANK[role] >= RANK[rule.get if method == "GET" else rule.post]
    if allowed:
        expected = rule.get_ok if method == "GET" else rule.post_ok
        assert response.status_code in expected, (url, response.status_code, expected)
        assert not _is_sign_in_redirect(response, route), response["Location"]
        body = _body(response)
        for canary in world.canaries:
            assert canary.encode() not in body, f"{url} shows the secret {canary}"
        acts = method == "POST" and rule.acts
        assert changed == acts, f"{method} {url} {'did not act' if acts else 'acted'}"
    else:
        _expect_refused(route, role, response)
        assert not changed, f"refused {method} {url} still changed the database or queued a task"
    if role == VIEWER and method == "POST":
        assert not changed, f"a viewer's POST to {url} acted"


def test_every_route_has_a_rule():
    routes = set(all_routes())
    assert routes - set(POLICY) == set(), "routes without a rule in POLICY"
    assert set(POLICY) - routes == set(), "rules for routes the URLconf no longer has"


def test_only_operators_and_above_can_act():
    """No rule lets a viewer (or anyone below an operator) POST to a route that acts."""
    for route, rule in POLICY.items():
        if rule.acts:
            assert RANK[rule.post] >= RANK[OPERATOR], route


def test_the_canaries_are_the_stored_secrets(world):
    """The pages are searched for the secrets really stored (encrypted) on the connections."""
    stored = []
    for kind, connection in world.conns.items():
        fresh = Connection.objects.get(pk=connection.pk)
        assert fresh.get_secrets() == _canaries(kind)
        assert all(value not in fresh.secrets_ciphertext for value in fresh.get_secrets().values())
        stored += fresh.get_secrets().values()
    assert sorted(stored) == sorted(world.canaries) and len(stored) >= len(world.conns)


#: The admin pages of connections: where credentials are entered and replaced.
CONNECTION_ADMIN_PAGES = (
    "/admin/connections/",
    "/admin/connections/connection/",
    "/admin/connections/connection/add/",
    "/admin/connections/connection/add/?kind=allclients",
    "/admin/connections/connection/{pk}/",
    "/admin/connections/connection/{pk}/change/",
    "/admin/connections/connection/{pk}/history/",
    "/admin/connections/connection/{pk}/delete/",
)


@pytest.mark.parametrize("is_staff", [False, True], ids=["operator", "operator-marked-staff"])
def test_an_operator_never_sees_or_changes_connection_credentials(world, is_staff):
    """Not even an operator someone marked staff (``is_staff`` alone grants nothing)."""
    user = _user("pm-operator-2", roles.OPERATOR, is_staff=is_staff)
    client = Client()
    client.force_login(user)
    connection = world.conns["allclients"]
    for template in CONNECTION_ADMIN_PAGES:
        url = template.format(pk=connection.pk)
        response = client.get(url, follow=is_staff)  # (the old change URL redirects staff)
        if is_staff:
            assert response.status_code in (403, 404), (url, response.status_code)
        else:
            assert _is_sign_in_redirect(response, "admin/"), (url, response.status_code)
        body = _body(response)
        assert not any(canary.encode() in body for canary in world.canaries), url
        assert b"secret_" not in body, url
    # what a connection admin would post to replace the key
    before = fingerprint()
    change = f"/admin/connections/connection/{connection.pk}/change/"
    form = {
        "name": connection.name,
        "base_url": connection.base_url,
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "setting_account_id": "1001",
        "setting_time_zone": "America/Chicago",
        "secret_api_key": "B" * 32,
    }
    response = client.post(change, form)
    if is_staff:
        assert response.status_code == 403
    else:
        assert _is_sign_in_redirect(response, "admin/")
    assert fingerprint() == before
    assert Connection.objects.get(pk=connection.pk).get_secrets() == _canaries("allclients")
    # the same form from a connection admin replaces the key: the refusal above is the role's
    response = world.client(ADMIN).post(change, form)
    assert (response.status_code, response["Location"]) == (302, "/admin/connections/connection/")
    assert Connection.objects.get(pk=connection.pk).get_secrets()["api_key"] == "B" * 32


# -- issue 15: who may point a connection where ---------------------------------------------
def _change_form(connection: Connection, **changes: str) -> dict[str, str]:
    form = {
        "name": connection.name,
        "base_url": connection.base_url,
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "setting_account_id": "1001",
        "setting_time_zone": "America/Chicago",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize(
    ("role", "allowed"), [(ADMIN, False), (SUPERUSER, True)], ids=["admin", "superuser"]
)
def test_only_a_superuser_may_point_a_connection_at_metadata_addresses(world, role, allowed):
    """The private-allowed matrix connection, pointed at the metadata service."""
    connection = world.conns["allclients"]
    change = f"/admin/connections/connection/{connection.pk}/change/"
    metadata = "http://169.254.169.254/latest/"
    form = _change_form(
        connection,
        base_url=metadata,
        secret_api_key="C" * 32,
        allow_private_network="on",
        allow_link_local="on",
    )
    before = fingerprint()
    response = world.client(role).post(change, form)
    fresh = Connection.objects.get(pk=connection.pk)
    if allowed:
        assert response.status_code == 302
        assert (fresh.base_url, fresh.allow_link_local) == (metadata, True)
        assert fresh.get_secrets() == {"api_key": "C" * 32}  # the old key was dropped
    else:
        assert response.status_code == 200
        assert "base_url" in response.context["adminform"].form.errors
        assert fingerprint() == before
        assert fresh.get_secrets() == _canaries("allclients")


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_nobody_below_a_superuser_deactivates_a_user(world, role):
    user = world.users[OPERATOR]
    response = world.client(role).post(f"/admin/auth/user/{user.pk}/deactivate/")
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or _is_sign_in_redirect(response, "admin/")
    assert User.objects.get(pk=user.pk).is_active
