"""Email deliveries in the admin: integration admins see failures and put them back in line."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import EmailDelivery
from .services import email_retry


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "subject", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status",)
    readonly_fields = [f.name for f in EmailDelivery._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: EmailDelivery | None = None) -> bool:
        return False

    @admin.action(description="Send the selected failed emails again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[EmailDelivery]) -> None:
        count = email_retry(delivery_ids=list(queryset.values_list("id", flat=True)), by=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"{count} email(s) put back in line.", messages.SUCCESS)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.administer_integrations")
