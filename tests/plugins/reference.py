"""Reference data every test database holds from the start (loaded once per session)."""

from django.db.models.signals import post_migrate


def reference_data_load() -> None:
    """The canonical code sets (fixtures/terminology_*.json) and the default intake checklist (its
    data migration's own function: a flush empties that table too); idempotent. The role groups
    come back with ``migrate``'s post_migrate (core)."""
    from importlib import import_module

    from django.apps import apps

    from apps.terminology.services.reference import terminology_reference_load

    terminology_reference_load()
    import_module("apps.intake.migrations.0002_default_checklist").add_defaults(apps, None)


def _reload_after_flush(sender, **kwargs) -> None:
    # A transactional test (transaction=True, live_server) ends with a flush, which empties every
    # table and then sends post_migrate: put the reference data back for the tests after it.
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label == with_models[-1].label:
        reference_data_load()


def reload_after_flush_connect() -> None:
    post_migrate.connect(_reload_after_flush, dispatch_uid="tests.reference_after_flush")


def reload_after_flush_disconnect() -> None:
    post_migrate.disconnect(dispatch_uid="tests.reference_after_flush")
