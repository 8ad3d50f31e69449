"""The one worklist every workflow uses (DESIGN.md: workflow owns the worklist query, keyset
pages and templates): a workflow registers a ``WorklistSpec`` in ``AppConfig.ready()`` and
binds ``WorklistViews`` to it in its views."""

from .spec import (
    BulkAction,
    Column,
    WorklistSpec,
    queues_of_state,
    state_guarded,
    worklist_register,
    worklist_spec,
    worklist_specs,
)

__all__ = [
    "BulkAction",
    "Column",
    "WorklistSpec",
    "queues_of_state",
    "state_guarded",
    "worklist_register",
    "worklist_spec",
    "worklist_specs",
]
