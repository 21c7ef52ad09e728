from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from crmhub.console.forms.profile import ProfileForm
from crmhub.console.rendering import HtmxHttpRequest, render_page
from crmhub.core.middleware import time_zone_remember
from crmhub.core.selectors import profile_time_zone
from crmhub.core.services import profile_save

TEMPLATE = "console/profile.html"


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HtmxHttpRequest) -> HttpResponse:
    """Show and change the signed-in user's own settings (the zone of their times)."""
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            zone = form.cleaned_data["time_zone"]
            profile_save(user=request.user, time_zone=zone)
            time_zone_remember(request, zone)
            messages.success(request, "Saved: times are now shown in your chosen zone.")
            return redirect("console:profile")
    else:
        form = ProfileForm(initial={"time_zone": profile_time_zone(user=request.user)})
    context = {"form": form, "now": timezone.now()}
    return render_page(request, TEMPLATE, context, status=400 if form.errors else 200)
