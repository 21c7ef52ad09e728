"""Everything the simulated Apptivo decides where the vendor documents are silent.

The documents (``seeds/apptivo-customers.txt``, ``spec/public-facts.md`` §2) fix the
actions (getConfigData, save, update with ``attributeName(s)``, getAllBySearchText,
getAllByAdvancedSearch), their parameters, ``startIndex``/``numRecords`` and the
``{"data": [...], "countOfRecords": N}`` listing; public client code adds ``getAll``,
``delete`` and the ``{"status": "FAILURE", "reason"}`` error form. Every other choice of
this simulator is named here, in this one constant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumptions:
    #: objectId of the customers app (the search sample's 3; the update template's 4 is
    #: taken for a slip of the document and refused).
    object_id: int = 3
    #: The largest ``numRecords`` (a bigger one is refused naming it, never cut).
    max_page: int = 500
    #: ``numRecords`` when a listing gives none (the documents' example).
    default_page: int = 50
    #: The largest ``startIndex`` (public code reports ~10,000 for the search endpoints;
    #: not simulated: any start up to this is served).
    max_start: int = 10**9
    #: Lengths the documents leave open: a longer value is refused.
    max_name: int = 100
    max_email: int = 100
    max_phone: int = 30
    max_description: int = 4000
    max_text: int = 255
    max_customer_number: int = 50
    max_search_text: int = 100
    #: getAllBySearchText looks in the name, number, emails and phones, ignoring case the
    #: Unicode way (``MÜLLER`` finds ``Müller``); getAllByAdvancedSearch's customerName and
    #: customerNumber are "contains" the same way.
    search_fields: tuple[str, ...] = (
        "customerName",
        "customerNumber",
        "emailAddresses",
        "phoneNumbers",
    )
    #: The searchData and multiSelectData filters simulated; any other one given (not
    #: empty) is refused by name, never ignored.
    search_data_filters: tuple[str, ...] = (
        "customerName",
        "customerNumber",
        "emailAddresses",
        "lastUpdateOnStartDate",
        "lastUpdateOnEndDate",
    )
    multi_select_filters: tuple[str, ...] = ("statusIds", "categoryIds")
    #: Dates are "YYYY-MM-DD HH:MM:SS" in UTC (the documents do not name a zone).
    date_zone: str = "UTC"
    #: Parameters an action takes besides ``a``, ``apiKey``, ``accessKey``; any other is
    #: refused. ``sessionKey``/``userName`` (public code) are not simulated; the save
    #: sample's ``isLeadConvert=N``, ``isDuplicate=false`` and the advanced search sample's
    #: ``territoryType=MULTIPLE`` are accepted with those values only.
    sample_values: tuple[tuple[str, str], ...] = (
        ("isLeadConvert", "N"),
        ("isDuplicate", "false"),
        ("territoryType", "MULTIPLE"),
    )
    not_simulated: tuple[str, ...] = ("sessionKey", "userName")
    #: customerData attributes outside the simulated ones (the save sample sends ~60:
    #: currency, payment term, territories...) are accepted and not stored, so the
    #: documented sample works; the simulated ones are checked (``validation.py``).
    other_customer_attributes: str = "accepted, not stored"
    #: ``save`` answers ``{"customer": {...}}`` (the vendor PHP sample reads
    #: ``->customer->customerId``); ``delete`` answers ``{"status": "SUCCESS",
    #: "customerId"}``; getConfigData's statuses, categories and types are invented.
    delete_answer_status: str = "SUCCESS"


ASSUMPTIONS = Assumptions()
