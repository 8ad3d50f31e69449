"""The pytest plugin of shared test fixtures (registered by the root conftest.py): the session's
database with its reference data, sites and users per role, service availability, browser settings."""

import os
import socket
from urllib.parse import urlsplit

import pytest

REQUIRE_SERVICES = os.environ.get("CLINOPS_REQUIRE_SERVICES") == "1"
REQUIRE_BROWSER = os.environ.get("CLINOPS_REQUIRE_BROWSER") == "1"


def service_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def need_service(url: str, what: str) -> None:
    """Skip when a real service is not reachable; in CI (CLINOPS_REQUIRE_SERVICES=1) fail instead."""
    if service_reachable(url):
        return
    message = f"{what} is not reachable at {urlsplit(url).netloc}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and CLINOPS_REQUIRE_SERVICES=1")
    pytest.skip(message)


def pytest_configure(config: pytest.Config) -> None:
    from . import db_template

    db_template.install()  # an xdist worker: migrate once per run, copy for the other workers


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    dsession = session.config.pluginmanager.getplugin("dsession")  # the xdist controller
    nodemanager = getattr(dsession, "nodemanager", None)
    if nodemanager is not None:
        from pytest_django.plugin import blocking_manager_key

        from . import db_template

        with session.config.stash[blocking_manager_key].unblock():
            db_template.remove(nodemanager.testrunuid)


def pytest_runtest_setup(item: pytest.Item) -> None:
    from .shared_db import refuse_transactional_inside_shared_data

    refuse_transactional_inside_shared_data(item)
    if item.get_closest_marker("postgres"):
        from django.conf import settings

        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            if REQUIRE_SERVICES:
                pytest.fail("this test needs PostgreSQL (DATABASE_URL) and CLINOPS_REQUIRE_SERVICES=1")
            pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database (migrated), plus the reference data, loaded once: each test's
    transaction rolls back over it, and a transactional test ends with the database put back to
    these rows (tests.plugins.db_reset; a ``flush`` puts them back too, through post_migrate)."""
    from . import db_reset
    from .reference import reference_data_load, reload_after_flush_connect, reload_after_flush_disconnect

    with django_db_blocker.unblock():
        reference_data_load()
        db_reset.snapshot_take()
    reload_after_flush_connect()
    db_reset.install()
    yield
    db_reset.uninstall()
    reload_after_flush_disconnect()


@pytest.fixture
def no_reference_data(db):
    """The test starts without the session's canonical code sets (for tests of loading them); they
    are deleted inside the test's transaction, so the rollback brings them back."""
    from apps.terminology.models import CodeSystem, Concept, TranslationGeneration

    for model in (Concept, CodeSystem, TranslationGeneration):
        model.objects.all()._raw_delete(model.objects.db)  # no signals: nothing to audit-log in a test fixture


@pytest.fixture
def own_site(db):
    from tests.plugins.core import own_site_make

    return own_site_make()


@pytest.fixture
def other_site(db):
    from tests.plugins.core import other_site_make

    return other_site_make()


@pytest.fixture
def make_user(db, own_site):
    """make_user(role, sites=[own_site]) -> a saved user with that role at those sites."""
    from tests.plugins.core import UserFactory

    def make(role: str | None, sites: list | None = None, **fields):
        return UserFactory(role=role, sites=[own_site] if sites is None else sites, **fields)

    return make


# --- browser tests (Playwright driving Debian's Chromium; never a downloaded browser) ---
CHROMIUM = os.environ.get("CLINOPS_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        if REQUIRE_BROWSER:
            pytest.fail(f"no Chromium at {CHROMIUM} and CLINOPS_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium to run browser tests")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}}


@pytest.fixture(autouse=True)
def _fresh_translation_table():
    """translate() serves from an in-memory table; a test's rollback must not leave it stale."""
    from apps.terminology.translation import translation_cache_clear

    translation_cache_clear()
    yield
    translation_cache_clear()


# --- MFA in tests (apps/core/mfa.py; README "Security") ---
def _mark_mfa_verified(sender, request, user, **kwargs):
    from apps.core.mfa import mfa_mark_verified

    mfa_mark_verified(request)


@pytest.fixture(autouse=True)
def _mfa_verified_on_login(request):
    """Every sign-in in a test (``client.force_login``, the login form in browser tests) counts as
    MFA-verified, so tests of other features need no OTP step. Tests of MFA itself ask for the
    ``real_mfa`` fixture, which turns this off and exercises the real login → code flow."""
    from django.contrib.auth.signals import user_logged_in

    if "real_mfa" in request.fixturenames:
        yield
        return
    user_logged_in.connect(_mark_mfa_verified, dispatch_uid="tests.mfa_verified_on_login")
    yield
    user_logged_in.disconnect(dispatch_uid="tests.mfa_verified_on_login")


@pytest.fixture
def real_mfa():
    """Sign-ins go through the real MFA step (see ``_mfa_verified_on_login``)."""
    return True
