from django.contrib import admin

from .models import WorkaroundWord


@admin.register(WorkaroundWord)
class WorkaroundWordAdmin(admin.ModelAdmin):
    """The words that, in a note or an outreach note, flag a workaround (fax, spreadsheet…)."""

    list_display = ["word"]
    search_fields = ["word"]
