"""Apptivo as crmhub knows it: connection settings, operations, how the console offers them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmhub.connectors.apptivo import params
from crmhub.connectors.declarations import (
    ON_CONNECTION,
    Checker,
    ConsoleAct,
    Crm,
    Field,
    Operation,
)

FORMS = "crmhub.console.forms"


def _checker(operation: str) -> Checker:
    def check(given: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        return params.clean(operation, given)

    return check


def _operation(name: str, label: str, **options: Any) -> Operation:
    return Operation(name, label, check=_checker(name), **options)


def _customer_operation(name: str, label: str, act: ConsoleAct) -> Operation:
    return _operation(name, label, safe=False, record_types=("customer",), act=act)


CRM = Crm(
    kind="apptivo",
    label="Apptivo",
    connector="crmhub.connectors.apptivo.connector.ApptivoConnector",
    default_base_url="https://api.apptivo.com/app/dao/v6/",
    default_rate_limit=1.0,
    record_types=("customer",),
    supports_incremental=True,
    fields=(
        Field("api_key", "API key", secret=True),
        Field("access_key", "Access key", secret=True),
    ),
    operations=(
        _operation(
            "create_customer",
            "Create a customer",
            needs_contact=False,
            act=ConsoleAct(
                label="New Apptivo customer",
                on=ON_CONNECTION,
                submit="Create customer",
                choices_from="get_config",
                after="The customer can be found in the contact search now; the next sync "
                "confirms it.",
                form=f"{FORMS}.apptivo.CreateCustomerForm",
            ),
        ),
        _customer_operation(
            "update_customer",
            "Edit the customer",
            ConsoleAct(
                label="Edit customer",
                submit="Save changes",
                choices_from="get_config",
                after="The contact search shows the change now; the next sync confirms it.",
                form=f"{FORMS}.apptivo.UpdateCustomerForm",
            ),
        ),
        _customer_operation(
            "delete_customer",
            "Delete the customer",
            ConsoleAct(
                label="Delete customer",
                confirm="Delete this customer in Apptivo? This cannot be undone.",
                after="The contact search shows the customer deleted now; the next sync "
                "confirms it.",
                form=f"{FORMS}.apptivo.DeleteCustomerForm",
            ),
        ),
        _operation(
            "get_config",
            "Customer statuses and categories",
            safe=True,
            needs_contact=False,
            act=ConsoleAct(
                label="Load choices",
                on=ON_CONNECTION,
                button=False,
                read=True,
                form=f"{FORMS}.base.ReadForm",
            ),
        ),
        _operation("search_customers", "Search customers", safe=True, needs_contact=False),
    ),
)
