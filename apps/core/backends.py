"""Authentication backends: Django's ModelBackend, with a user's roles and permissions read in one
query instead of three (the user's own permissions, their groups' permissions, their groups' names)."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value


class RoleBackend(ModelBackend):
    """ModelBackend whose permission caches (and ``roles_of``'s) are filled by one UNION query."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not user_obj.is_superuser and not hasattr(user_obj, "_clinops_group_names"):
            roles_and_permissions_load(user_obj)
        return super().get_all_permissions(user_obj, obj)


def roles_and_permissions_load(user: Any) -> None:
    """Fill the user's group, own-permission and role caches for this request, in one query."""
    by_group = Group.objects.filter(user=user).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    own = (
        Permission.objects.filter(user=user)
        .annotate(role_name=Value(None, output_field=CharField()))
        .values_list("role_name", "content_type__app_label", "codename")
    )
    groups: set[str] = set()
    user_perms: set[str] = set()
    group_perms: set[str] = set()
    for group, app_label, codename in by_group.order_by().union(own.order_by(), all=True):
        if group is not None:
            groups.add(group)
        if codename is not None:
            (group_perms if group is not None else user_perms).add(f"{app_label}.{codename}")
    user._user_perm_cache = user_perms
    user._group_perm_cache = group_perms
    user._clinops_group_names = groups
