"""Workflow apps register their work-item model here (in ``AppConfig.ready()``), so the shared
machinery — claims, SLA sweeps, the timeline — can find items by workflow name."""

from collections.abc import Callable
from datetime import datetime

from .models import WorkItem

# An escalator takes a locked, overdue item and the time, and escalates it its own way
# (saving it and logging the transition); without one the item goes to the supervisor queue.
Escalator = Callable[[WorkItem, datetime], None]

_models: dict[str, type[WorkItem]] = {}
_escalators: dict[str, Escalator] = {}


def workflow_register(model: type[WorkItem], *, escalate: Escalator | None = None) -> None:
    _models[model.WORKFLOW] = model
    if escalate is not None:
        _escalators[model.WORKFLOW] = escalate


def escalator_for(workflow: str) -> Escalator | None:
    return _escalators.get(workflow)


def workflow_model(workflow: str) -> type[WorkItem]:
    try:
        return _models[workflow]
    except KeyError:
        raise LookupError(f"no workflow named {workflow!r}") from None


def workflow_models() -> dict[str, type[WorkItem]]:
    return dict(_models)
