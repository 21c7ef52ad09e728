"""The simulated Apptivo endpoint: ``customers?a=<action>``, GET or POST.

Every parameter (the keys included) is read from the query string or the form body, the
form winning. Every failure, a refused key included, is answered as the vendor does, with
HTTP 200 and ``{"status": "FAILURE", "reason": ...}`` (crmhub's decision where the
documents are silent: spec/README.md point 1). Each call is written to the ledger, without
the keys; the names that came in the query string and in the form are recorded too, so a
test can prove the keys never travelled in a URL.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crmhub.sandbox import faults, ledger
from crmhub.sandbox.apptivo import config, customers
from crmhub.sandbox.apptivo import validation as check
from crmhub.sandbox.apptivo.assumptions import ASSUMPTIONS
from crmhub.sandbox.apptivo.validation import Failure
from crmhub.sandbox.models import Account

KIND = "apptivo"
MAX_START = ASSUMPTIONS.max_start
MAX_SEARCH_TEXT = ASSUMPTIONS.max_search_text
DEFAULT_PAGE = ASSUMPTIONS.default_page
_PAGING = ("startIndex", "numRecords", "iDisplayStart", "iDisplayLength")
#: The parameters each action takes besides ``a``, ``apiKey`` and ``accessKey``.
PARAMETERS: dict[str, frozenset[str]] = {
    "getConfigData": frozenset({"objectId"}),
    "getAll": frozenset({*_PAGING, "objectId"}),
    "getAllBySearchText": frozenset({*_PAGING, "objectId", "searchText"}),
    "getAllByAdvancedSearch": frozenset(
        {*_PAGING, "objectId", "searchData", "multiSelectData", "territoryType"}
    ),
    "save": frozenset({"customerData", "isLeadConvert", "isDuplicate"}),
    "update": frozenset(
        {
            "objectId",
            "customerId",
            "customerData",
            "attributeName",
            "attributeNames",
            "isEmailAddressUpdate",
        }
    ),
    "delete": frozenset({"objectId", "customerId"}),
}
_ALWAYS = frozenset({"a", "apiKey", "accessKey"})

#: An action answers (payload, effect); a non-empty effect means a change was applied.
Handler = Callable[[Mapping[str, str]], tuple[dict[str, Any], str]]


def _params(request: HttpRequest) -> dict[str, str]:
    return {**request.GET.dict(), **request.POST.dict()}


def _logged(request: HttpRequest, params: Mapping[str, str]) -> dict[str, Any]:
    return {
        **params,
        "_query": sorted(request.GET.keys()),
        "_form": sorted(request.POST.keys()),
    }


def _failure(reason: str) -> JsonResponse:
    return JsonResponse({"status": "FAILURE", "reason": reason})


def _authenticate(params: Mapping[str, str]) -> None:
    """Refuse a call whose apiKey/accessKey are missing or not the firm's."""
    api_key, access_key = params.get("apiKey", ""), params.get("accessKey", "")
    if not api_key or not access_key:
        raise Failure("apiKey and accessKey are required.")
    account = Account.objects.filter(kind=KIND).first()
    expected = account.credentials if account else {}
    good_api = hmac.compare_digest(api_key.encode(), expected.get("api_key", "").encode())
    good_access = hmac.compare_digest(access_key.encode(), expected.get("access_key", "").encode())
    if not (account and good_api and good_access):
        raise Failure("Invalid apiKey or accessKey.")


def _check_parameters(action: str, params: Mapping[str, str]) -> None:
    """Refuse a parameter ``action`` does not take, or takes with a value not simulated.

    Never ignore one: an ignored filter answers customers nobody asked for, and a misspelt
    name would pass unseen.
    """
    known = PARAMETERS[action] | _ALWAYS
    samples = dict(ASSUMPTIONS.sample_values)
    for name in params:
        if name in ASSUMPTIONS.not_simulated:
            raise Failure(f"{name} is not supported by this simulator.")
        if name not in known:
            raise Failure(f"Invalid parameter {name[:40]!r} for {action}.")
        if name in samples and params[name] != samples[name]:
            raise Failure(
                f"{name}={params[name][:20]!r} is not supported by this simulator "
                f"(only {samples[name]})."
            )


def _page(params: Mapping[str, str]) -> tuple[int, int]:
    start_name = "startIndex" if "startIndex" in params else "iDisplayStart"
    count_name = "numRecords" if "numRecords" in params else "iDisplayLength"
    start = check.int_param(params, start_name, default=0, minimum=0, maximum=MAX_START)
    count = check.int_param(
        params, count_name, default=DEFAULT_PAGE, minimum=1, maximum=check.MAX_PAGE
    )
    return start, count


def _listing(rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"data": rows, "countOfRecords": total}


# -- actions ---------------------------------------------------------------------------------
def get_config_data(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Return the firm's customer configuration."""
    check.object_id(params)
    return config.config_data(), ""


def get_all(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Return one page of every live customer, in customerId order."""
    check.object_id(params)
    start, count = _page(params)
    return _listing(*customers.customers_page(start=start, count=count)), ""


def get_all_by_search_text(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Return one page of the customers whose name, number, emails or phones hold the text."""
    check.object_id(params)
    text = params.get("searchText", "").strip()
    if not text:
        raise Failure("searchText is required.")
    if len(text) > MAX_SEARCH_TEXT:
        raise Failure(f"searchText is too long (at most {MAX_SEARCH_TEXT} characters).")
    start, count = _page(params)
    where = customers.text_filter(text)
    return _listing(*customers.customers_page(start=start, count=count, where=where)), ""


def get_all_by_advanced_search(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Return one page of the customers matching searchData and multiSelectData.

    Supported (this simulator's subset): customerName and customerNumber (contains),
    emailAddresses (exact, any case), lastUpdateOnStartDate/lastUpdateOnEndDate (inclusive,
    "YYYY-MM-DD[ HH:MM:SS]" UTC: an assumption), statusIds and categoryIds. Any other
    filter given is refused by name.
    """
    check.object_id(params)
    search = check.json_param(params, "searchData", expected=dict, required=True)
    multi = check.json_param(params, "multiSelectData", expected=dict, required=False)
    start, count = _page(params)
    where = _advanced_filter(search, multi)
    emails = [
        (item.get("emailAddress") if isinstance(item, dict) else item) or ""
        for item in search.get("emailAddresses") or []
    ]
    emails = [email for email in emails if isinstance(email, str) and email.strip()]
    if emails:
        rows, total = customers.customers_with_emails(
            emails=emails, start=start, count=count, where=where
        )
    else:
        rows, total = customers.customers_page(start=start, count=count, where=where)
    return _listing(rows, total), ""


def _given(value: Any) -> bool:
    """Return whether a searchData value asks for something (the sample's blanks do not)."""
    if isinstance(value, dict):
        ignored = ("addressAttributeId", "addressGroupName")
        return any(_given(v) for k, v in value.items() if k not in ignored)
    if isinstance(value, list):
        return any(_given(item) for item in value)
    return value not in (None, "") and not (isinstance(value, str) and not value.strip())


def _refuse_unsupported(search: Mapping[str, Any], multi: Mapping[str, Any]) -> None:
    for where, given, supported in (
        ("searchData", search, ASSUMPTIONS.search_data_filters),
        ("multiSelectData", multi, ASSUMPTIONS.multi_select_filters),
    ):
        for key, value in given.items():
            if key not in supported and _given(value):
                raise Failure(f"{where}.{key[:40]} is not supported by this simulator.")


def _advanced_filter(search: Mapping[str, Any], multi: Mapping[str, Any]) -> Q:
    _refuse_unsupported(search, multi)
    where = Q()
    name = search.get("customerName")
    if isinstance(name, str) and name.strip():
        where &= customers.name_filter(name.strip())
    number = search.get("customerNumber")
    if isinstance(number, str) and number.strip():
        where &= Q(data__customerNumber__icontains=number.strip())
    if search.get("lastUpdateOnStartDate"):
        since = customers.parse_date(str(search["lastUpdateOnStartDate"]), "lastUpdateOnStartDate")
        where &= Q(updated_at__gte=since)
    if search.get("lastUpdateOnEndDate"):
        until = customers.parse_date(
            str(search["lastUpdateOnEndDate"]), "lastUpdateOnEndDate", end=True
        )
        where &= Q(updated_at__lte=until)
    for key, field in (("statusIds", "statusId"), ("categoryIds", "customerCategoryId")):
        ids = multi.get(key) or []
        if not isinstance(ids, list) or not all(str(i).isdigit() for i in ids):
            raise Failure(f"Invalid multiSelectData.{key}.")
        if ids:
            where &= Q(**{f"data__{field}__in": [int(i) for i in ids]})
    return where


def save(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Create a customer from customerData; answer ``{"customer": {...}}``.

    The answer's shape follows the vendor's PHP sample, which reads
    ``$newCustomer->customer->customerId``.
    """
    data = check.json_param(params, "customerData", expected=dict, required=True)
    fields = check.new_customer(data)
    record = customers.customer_create(fields=fields)
    emails = fields.get("emailAddresses") or [{}]
    effect = f"save:{fields['customerName']}:{emails[0].get('emailAddress', '')}"
    return {"customer": customers.render(record)}, effect


def update(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Change only the listed attributes; emails only with isEmailAddressUpdate=true."""
    check.object_id(params)
    customer_id = check.int_param(params, "customerId", default=None, minimum=1, maximum=10**15)
    data = check.json_param(params, "customerData", expected=dict, required=True)
    names, _param = check.attribute_names(params)
    email_update = check.bool_param(params, "isEmailAddressUpdate")
    if data.get("customerId") not in (None, "") and str(data["customerId"]) != str(customer_id):
        raise Failure("customerData.customerId does not match customerId.")
    customers.customer_get(customer_id=customer_id)
    changes: dict[str, Any] = {}
    applied: list[str] = []
    for name in names:
        if name == "emailAddresses" and not email_update:
            continue  # the vendor ignores an email change without isEmailAddressUpdate=true
        if name not in data and name not in ("statusName", "customerCategory"):
            raise Failure(f"Attribute {name} is listed but missing from customerData.")
        changes.update(check.attribute(data, name))
        applied.append(name)
    if not changes:
        record = customers.customer_get(customer_id=customer_id)
        return {"customer": customers.render(record)}, ""
    record = customers.customer_update(customer_id=customer_id, changes=changes)
    return {"customer": customers.render(record)}, f"update:{customer_id}:{','.join(applied)}"


def delete(params: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Delete a customer (assumption: the answer is ``{"status": "SUCCESS", "customerId"}``)."""
    check.object_id(params)
    customer_id = check.int_param(params, "customerId", default=None, minimum=1, maximum=10**15)
    customers.customer_delete(customer_id=customer_id)
    answer = {"status": ASSUMPTIONS.delete_answer_status, "customerId": customer_id}
    return answer, f"delete:{customer_id}"


ACTIONS: dict[str, Handler] = {
    "getConfigData": get_config_data,
    "getAll": get_all,
    "getAllBySearchText": get_all_by_search_text,
    "getAllByAdvancedSearch": get_all_by_advanced_search,
    "save": save,
    "update": update,
    "delete": delete,
}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def customers_endpoint(request: HttpRequest) -> HttpResponse:
    """Answer one ``customers?a=<action>`` call."""
    params = _params(request)
    action = params.get("a", "")
    operation = action if action in ACTIONS else "unknown"
    injected = faults.inject(KIND)
    if injected is not None:
        ledger.record(KIND, operation, _logged(request, params), status=injected.status_code)
        return injected
    try:
        _authenticate(params)
        handler = ACTIONS.get(action)
        if handler is None:
            raise Failure(f"Invalid action {action[:40]!r}.")
        _check_parameters(action, params)
        payload, effect = handler(params)
    except Failure as failure:
        ledger.record(KIND, operation, _logged(request, params))
        return _failure(failure.reason)
    ledger.record(KIND, operation, _logged(request, params), effect=effect, applied=bool(effect))
    if effect:
        faults.after_apply(KIND)
    return JsonResponse(payload)
