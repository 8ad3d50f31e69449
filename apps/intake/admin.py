"""The per-site switch (and which EHR locations are the site) is set up by integration staff in
the admin; checklists are kept by supervisors on their own page (views/checklists.py)."""

from django.contrib import admin

from .models import IntakeSite


@admin.register(IntakeSite)
class IntakeSiteAdmin(admin.ModelAdmin):
    list_display = ["site", "enabled", "source"]
    list_filter = ["enabled"]
