from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from crmhub.actions import selectors as action_selectors
from crmhub.console import selectors
from crmhub.console.access import viewer_required
from crmhub.console.rendering import HtmxHttpRequest, render_page

TEMPLATE = "console/dashboard.html"


@viewer_required
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """Show connections and their syncs, actions needing attention, recent actions, a chart."""
    rows = selectors.connection_rows()
    chart = selectors.activity_per_day()
    context = {
        "rows": rows,
        "syncing": any(row.syncing for row in rows),
        "attention": action_selectors.actions_needing_attention(),
        "attention_counts": action_selectors.attention_counts(),
        "recent": action_selectors.actions_recent(),
        "chart": chart,
        "chart_rows": list(zip(chart["labels"], chart["actions"], chart["syncs"], strict=True)),
    }
    return render_page(
        request,
        TEMPLATE,
        context,
        partial="dashboard-body",
        partials={"connection-health": "connection-health"},
    )
