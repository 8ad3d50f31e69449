from django.contrib import admin

from .models import ReferralRoute


@admin.register(ReferralRoute)
class ReferralRouteAdmin(admin.ModelAdmin):
    """Where each source's referrals go; the most specific route wins, a blank one is the default."""

    list_display = ["source", "performer_ref", "specialty", "site", "service_line"]
    list_filter = ["source", "site"]
    search_fields = ["performer_ref", "specialty"]
