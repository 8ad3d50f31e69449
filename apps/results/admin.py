from django.contrib import admin

from .models import ClinicianLink, ResultSite


@admin.register(ClinicianLink)
class ClinicianLinkAdmin(admin.ModelAdmin):
    list_display = ("practitioner_ref", "user", "site", "source")
    list_filter = ("source", "site")
    search_fields = ("practitioner_ref", "user__username", "user__last_name")
    autocomplete_fields = ("user",)


@admin.register(ResultSite)
class ResultSiteAdmin(admin.ModelAdmin):
    list_display = ("source", "site")
