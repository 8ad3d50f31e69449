"""Workflow apps register their work-item model here (in ``AppConfig.ready()``), so the shared
machinery — claims, SLA sweeps, the timeline — can find items by workflow name."""

from .models import WorkItem

_models: dict[str, type[WorkItem]] = {}


def workflow_register(model: type[WorkItem]) -> None:
    _models[model.WORKFLOW] = model


def workflow_model(workflow: str) -> type[WorkItem]:
    try:
        return _models[workflow]
    except KeyError:
        raise LookupError(f"no workflow named {workflow!r}") from None


def workflow_models() -> dict[str, type[WorkItem]]:
    return dict(_models)
