import pytest

from apps.terminology import hooks, impact
from apps.terminology.translation import translation_cache_clear


@pytest.fixture(autouse=True)
def _isolated_terminology():
    """Each test starts with an empty translation table and leaves the registries as it found them
    (a test's database is rolled back; a process-wide table or registration would outlive it)."""
    translation_cache_clear()
    callbacks, providers = list(hooks._callbacks), list(impact._providers)
    yield
    translation_cache_clear()
    hooks._callbacks[:] = callbacks
    impact._providers[:] = providers


@pytest.fixture
def steward_a(db):
    from tests.plugins.terminology import steward

    return steward("alice", first_name="Alice", last_name="Author")


@pytest.fixture
def steward_b(db):
    from tests.plugins.terminology import steward

    return steward("bob", first_name="Bob", last_name="Reviewer")
