"""Sites, service lines and users with roles: every app's tests make them."""

from typing import Any

import factory
from auditlog.context import disable_auditlog
from django.contrib.auth.models import Group

from apps.core.models import ServiceLine, Site, User
from apps.core.roles import STAFF_ROLES, roles_sync

PASSWORD = "correct-horse-battery-9"


class Factory(factory.django.DjangoModelFactory):
    """Test data as it already was before the test: made without change-audit rows and their seals
    (a fifth of the suite's time went to auditing fixtures). What people and the EHR change in a
    test is audited as in production, and the audit itself is tested in apps/core."""

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy: Any, params: Any) -> Any:
        with disable_auditlog():
            return super()._generate(strategy, params)


class ServiceLineFactory(Factory):
    class Meta:
        model = ServiceLine
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"line-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())


class SiteFactory(Factory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.LazyAttribute(lambda o: f"{o.code.title()} Clinic")
    timezone = "America/New_York"


class UserFactory(Factory):
    """A user with ``role`` (a Role value) and membership of ``sites``."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if extracted:
            # The role groups come with migrate (and come back after a flush): sync only if missing.
            group = Group.objects.filter(name=extracted).first()
            if group is None:
                roles_sync()
                group = Group.objects.get(name=extracted)
            self.groups.add(group)
            if extracted in STAFF_ROLES:
                self.is_staff = True
                self.save(update_fields=["is_staff"])

    @factory.post_generation
    def sites(self, create: bool, extracted: list[Site] | None, **kwargs: object) -> None:
        if extracted:
            self.sites.set(extracted)


def own_site_make() -> Site:
    """The ``own_site`` fixture's site (the same row again if it exists)."""
    return SiteFactory(code="own", name="Own Clinic", timezone="America/New_York")


def other_site_make() -> Site:
    """The ``other_site`` fixture's site (the same row again if it exists)."""
    return SiteFactory(code="other", name="Other Hospital", timezone="America/Los_Angeles")
