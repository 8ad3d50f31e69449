from django.contrib import admin

from .models import Holiday, SiteCalendar, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["workflow", "queue", "priority", "target_minutes", "business_hours", "warn_percent"]
    list_filter = ["workflow", "business_hours"]


@admin.register(SiteCalendar)
class SiteCalendarAdmin(admin.ModelAdmin):
    list_display = ["site"]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "site"]
    list_filter = ["site"]
    date_hierarchy = "date"
