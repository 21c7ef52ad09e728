"""The contacts page's result rows, rendered in Python (``{% result_rows %}``)."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from crmhub.console.selectors import ResultRow
from crmhub.console.templatetags.console import result_rows

#: The rows as the template language rendered them before ``result_rows``: the reference.
TEMPLATE_ROWS = """{% for row in rows %}
      <tr{% if row.exact %} class="exact"{% endif %}>
        {% if can_act %}<td><input type="checkbox" name="pick" value="{{ row.pick }}" aria-label="Select {{ row.title }}"></td>{% endif %}
        <td><a id="result-{{ row.key }}" href="{{ row.href }}">{{ row.title }}</a>{% if row.company %}<div class="small muted">{{ row.company }}</div>{% endif %}</td>
        <td>{% for kind, label in row.kinds %}<span class="badge {{ kind }}">{{ label }}</span>{% endfor %}</td>
        <td class="small">{{ row.emails }}</td>
        <td class="small">{{ row.phones }}</td>
        <td class="small">{{ row.types }}</td>
      </tr>{% endfor %}"""  # noqa: E501


def _row(**overrides: object) -> ResultRow:
    values: dict[str, object] = {
        "pick": "p12.3.4",
        "key": "p12",
        "href": "/people/12/",
        "title": "Ann O'Brien",
        "company": "Acme & Sons",
        "kinds": (("allclients", "AllClients"), ("crmcom", "CRM.COM")),
        "emails": "ann@example.com, a@b.org",
        "phones": "+1 415 555 0100",
        "types": "Contact, Customer (deleted)",
        "exact": False,
    }
    return ResultRow(**{**values, **overrides})  # type: ignore[arg-type]


HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"
ROWS = [
    _row(),
    _row(exact=True, company="", kinds=()),
    _row(
        pick=HOSTILE, key="c9", href="/contacts/9/", title=HOSTILE, company=HOSTILE,
        kinds=((HOSTILE, HOSTILE),), emails=HOSTILE, phones=HOSTILE, types=HOSTILE,
    ),
]  # fmt: skip


def _squeezed(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


@pytest.mark.parametrize("can_act", [True, False])
def test_rows_are_the_markup_the_template_made(can_act: bool) -> None:
    expected = Template(TEMPLATE_ROWS).render(Context({"rows": ROWS, "can_act": can_act}))
    assert _squeezed(result_rows(ROWS, can_act)) == _squeezed(expected)


def test_every_value_is_escaped() -> None:
    html = result_rows(ROWS, True)
    assert "<script>" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quoted&#x27;"
    assert html.count(escaped) == 9  # pick, its label, title, company, kind x2, the three cells


def test_no_checkbox_for_a_viewer_and_no_rows_for_none() -> None:
    assert 'name="pick"' not in result_rows(ROWS, False)
    assert result_rows(ROWS, True).count('name="pick"') == len(ROWS)
    assert result_rows([], True) == ""
