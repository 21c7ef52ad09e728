"""Clients nobody here wrote, re-expressed from the vendors' and third parties' published
samples with nothing but the standard library, drive the sandbox over real HTTP.

A simulator change that such a client would notice fails here, whatever crmhub's own
connectors do:

* AllClients' own PHP sample ``basic-get-contacts.php`` (AllClients/Api-Php-Examples):
  an unpaged GetContacts read with SimpleXML, "Contacts returned: N", dates parsed with
  ``n/j/Y g:i:s a``;
* AllClients' WordPress plugin (``includes/class-allclients-api.php``): DOMDocument, an
  error is a ``<results>`` with exactly one child node, the data is ``<results>``' first
  child, turned into arrays by ``xml_to_array``; its connection test is GetCategories;
* Airbyte's Apptivo manifest (``source-apptivo/manifest.yaml``): ``GET customers`` with
  ``a=getAll`` and the keys in the query string, ``numRecords=100`` on every request,
  ``startIndex`` from the second on, records at ``data``, stop at a short page, and
  ``{"status": "FAILURE"}`` with "Key" in the reason is a credentials error;
* Apptivo's own sample requests (save, update, advanced search) as its document prints
  them, keys in the query string;
* a CRM.COM client as public snippets write it: JSON login reading ``data.token``, then
  POST bodies with identifier objects, ``status.code != "OK"`` being an error.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any
from xml.dom import minidom
from xml.etree import ElementTree

import pytest

from crmhub.sandbox.allclients import views as allclients_views
from tests.connectors.apptivo.test_parsing import sample_params

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _post_form(url: str, fields: dict[str, Any]) -> bytes:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(url, data=data, timeout=30) as answer:
        assert answer.status == 200  # curl's CURLOPT_FAILONERROR
        return answer.read()


def _get_json(url: str, params: dict[str, Any]) -> Any:
    with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(params)}", timeout=30) as answer:
        return json.loads(answer.read())


def _post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


# -- AllClients' PHP sample: basic-get-contacts.php --------------------------------------------
def basic_get_contacts(endpoint: str, account_id: str, api_key: str) -> list[str]:
    """Return what the vendor's PHP sample prints, line by line."""
    body = _post_form(endpoint + "GetContacts.aspx", {"accountid": account_id, "apikey": api_key})
    results = ElementTree.fromstring(body)  # noqa: S314 (simplexml_load_string)
    if results.find("error") is not None:
        return [f"AllClients API returned an error: {results.findtext('error')}"]
    contacts = list(results.find("contacts"))
    if not contacts:
        return ["No contacts returned!"]
    printed = [f"Contacts returned: {len(contacts)}"]
    for contact in contacts:
        edited = datetime.strptime(contact.findtext("editdate"), "%m/%d/%Y %I:%M:%S %p")
        datetime.strptime(contact.findtext("adddate"), "%m/%d/%Y %I:%M:%S %p")
        printed.append(
            f"{contact.findtext('lastname')}, {contact.findtext('firstname')} "
            f"({int(contact.findtext('id'))}), updated {edited:%m/%d/%Y}"
        )
    return printed


def test_the_vendors_php_sample_gets_every_contact(sandbox_spec, monkeypatch):
    monkeypatch.setattr(allclients_views.time, "sleep", lambda seconds: None)  # the delay
    spec = sandbox_spec("allclients", people=620)
    printed = basic_get_contacts(
        spec.base_url, spec.settings["account_id"], spec.secrets["api_key"]
    )
    assert printed[0] == "Contacts returned: 620"
    assert len(printed) == 621
    wrong = basic_get_contacts(spec.base_url, spec.settings["account_id"], "0" * 32)
    assert wrong == ["AllClients API returned an error: Authentication failed"]


# -- AllClients' WordPress plugin ----------------------------------------------------------------
class WordPressPluginApi:
    """``AllClients_API::get`` and ``xml_to_array`` of the vendor's WordPress plugin."""

    def __init__(self, endpoint: str, key: str, account_id: str) -> None:
        self.endpoint, self.key, self.account = endpoint.rstrip("/"), key, int(account_id)
        self.last_error: str | None = None

    def get(self, function_name: str, data: dict[str, Any] | None = None) -> Any:
        self.last_error = None
        body = _post_form(
            f"{self.endpoint}/{function_name}.aspx",
            {"accountid": self.account, "apikey": self.key, **(data or {})},
        )
        document = minidom.parseString(body)  # noqa: S318 (DOMDocument::loadXML)
        found = document.getElementsByTagName("results")
        if found.length != 1:
            self.last_error = "API response results node not returned."
            return False
        results = found.item(0)
        errors = document.getElementsByTagName("error")
        if results.childNodes.length == 1 and errors.length == 1:
            self.last_error = errors.item(0).firstChild.nodeValue
            return 0
        return self.xml_to_array(results.firstChild)

    def xml_to_array(self, node: Any, item_node: str | None = None) -> Any:
        result: dict[str, Any] = {}
        if node.hasChildNodes():
            children = node.childNodes
            if children.length == 1 and children.item(0).nodeType == node.TEXT_NODE:
                return children.item(0).nodeValue
            groups: set[str] = set()
            for child in children:
                name = child.nodeName
                if name not in result:
                    if name == item_node:
                        result[name] = [self.xml_to_array(child, item_node)]
                        groups.add(name)
                    else:
                        result[name] = self.xml_to_array(child, item_node)
                else:
                    if name not in groups:
                        result[name] = [result[name]]
                        groups.add(name)
                    result[name].append(self.xml_to_array(child, item_node))
        return result

    def test(self) -> bool:
        self.get("GetCategories")
        return not self.last_error


def test_the_vendors_wordpress_plugin_tests_the_connection_and_lists(sandbox_spec):
    spec = sandbox_spec("allclients", people=5)
    account, key = spec.settings["account_id"], spec.secrets["api_key"]
    wrong = WordPressPluginApi(spec.base_url, "0" * 32, account)
    assert wrong.test() is False
    assert wrong.last_error == "Authentication failed"
    plugin = WordPressPluginApi(spec.base_url, key, account)
    assert plugin.test() is True
    categories = plugin.get("GetCategories")
    assert [c["name"] for c in categories["category"]] == [
        "Prospect",
        "Client",
        "Past Client",
        "Sphere of Influence",
        "Vendor",
        "Friends & Family",
    ]
    contacts = plugin.get("GetContacts", {"pagingsize": 5, "pagingoffset": 0})
    assert len(contacts["contact"]) == 5
    assert all(contact["id"].isdigit() for contact in contacts["contact"])


# -- Airbyte's Apptivo manifest --------------------------------------------------------------------
def airbyte_read_customers(url_base: str, api_key: str, access_key: str) -> list[dict[str, Any]]:
    """Read the ``customers`` stream as the manifest's DeclarativeSource would."""
    page_size, records, offset, first = 100, [], 0, True
    while True:
        params: dict[str, Any] = {"a": "getAll", "accessKey": access_key, "apiKey": api_key}
        params["numRecords"] = page_size
        if not first:  # OffsetIncrement, inject_on_first_request: false
            params["startIndex"] = offset
        answer = _get_json(url_base + "/app/dao/v6/customers", params)
        if answer.get("status") == "FAILURE":
            kind = "config_error" if "Key" in answer.get("reason", "") else "failure"
            raise RuntimeError(f"{kind}: {answer.get('reason')}")
        page = answer["data"]  # DpathExtractor field_path: [data]
        records += page
        if len(page) < page_size:
            return records
        offset, first = offset + len(page), False


def test_airbytes_apptivo_manifest_reads_every_customer(sandbox_spec):
    spec = sandbox_spec("apptivo", people=250)
    url_base = spec.base_url.removesuffix("/app/dao/v6/")
    records = airbyte_read_customers(url_base, spec.secrets["api_key"], spec.secrets["access_key"])
    ids = [record["customerId"] for record in records]
    assert len(ids) == 250 == len(set(ids))  # primaryKeysArePresent, primaryKeysAreUnique
    assert all(isinstance(i, int) for i in ids)  # the schema's customerId: number
    assert all(isinstance(record["customerName"], str) for record in records)
    with pytest.raises(RuntimeError, match="config_error"):
        airbyte_read_customers(url_base, spec.secrets["api_key"], "wrong")


# -- Apptivo's own sample requests, as the document prints them ------------------------------
def test_apptivos_documented_sample_requests_are_served(sandbox_spec):
    spec = sandbox_spec("apptivo", people=5)
    url = spec.base_url + "customers"
    keys = {"apiKey": spec.secrets["api_key"], "accessKey": spec.secrets["access_key"]}
    created = _get_json(url, {**sample_params("create_customer_vendor_request.txt"), **keys})
    customer = created["customer"]
    assert (customer["customerName"], customer["statusName"]) == ("TestCustomer", "Active")
    update = sample_params("update_customer_vendor_request.txt")
    data = {**json.loads(update["customerData"]), "customerId": customer["customerId"]}
    update.update(customerData=json.dumps(data), customerId=str(customer["customerId"]))
    updated = _get_json(url, {**update, **keys})["customer"]
    assert updated["customerName"] == "TestCustomer updated"
    assert updated["emailAddresses"][0]["emailAddress"] == "customer@apptivo.com"
    search = _get_json(url, {**sample_params("search_customers_vendor_request.txt"), **keys})
    assert search == {"data": [], "countOfRecords": 0}  # no customer number holds "test"


# -- a CRM.COM client as public snippets write it -----------------------------------------------
def test_a_crmcom_snippet_logs_in_and_creates_a_communication(sandbox_spec):
    spec = sandbox_spec("crmcom", people=4)
    login = {key: spec.settings[key] for key in ("username", "organisation")}
    answer = _post_json(
        spec.base_url + "authentication/token", {**login, "password": spec.secrets["password"]}
    )
    assert answer["status"]["code"] == "OK"
    token = answer["data"]["token"]
    listed = _get_json(
        spec.base_url + "contact_information/list", {"token": token, "number_of_results": 1}
    )
    contact = listed["data"][0]["id"]
    created = _post_json(
        spec.base_url + "communications/create",
        {
            "token": token,
            "contact_information_identifier": {"id": contact},
            "direction": "OUTGOING",
            "media": "LETTER",
            "subject": "Subscription Notice",
            "content": "Dear #contact_information.first_name, your subscription is overdue.",
            "life_cycle_state": "DRAFT",
        },
    )
    assert created["status"]["code"] == "OK", created["status"]
    number = created["data"]["number"]
    done = _post_json(
        spec.base_url + "communications/complete",
        {"token": token, "communication_identifier": {"number": number}},
    )
    assert done["data"]["life_cycle_state"] == "COMPLETED"
    refused = _post_json(
        spec.base_url + "communications/complete",
        {"token": token, "communication_identifier": f"number={number}"},
    )
    assert refused["status"]["code"] != "OK"
