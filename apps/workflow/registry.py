"""Workflow apps register their work-item model and its policy here (in ``AppConfig.ready()``), so
the shared machinery — the transition engine, claims, SLA sweeps, the timeline — can find items
by workflow name and treat each workflow its own way."""

from typing import TYPE_CHECKING

from .models import WorkItem

if TYPE_CHECKING:
    from .transitions import Policy

_models: dict[str, type[WorkItem]] = {}
_policies: dict[str, "Policy"] = {}


def workflow_register(model: type[WorkItem], *, policy: "Policy | None" = None) -> None:
    """Make a workflow known by its model's ``WORKFLOW`` name, with how its items behave."""
    _models[model.WORKFLOW] = model
    if policy is not None:
        _policies[model.WORKFLOW] = policy


def workflow_policy(workflow: str) -> "Policy":
    """The workflow's registered policy (the default ``Policy`` when it registered none)."""
    from .transitions import Policy

    return _policies.get(workflow) or Policy()


def workflow_model(workflow: str) -> type[WorkItem]:
    try:
        return _models[workflow]
    except KeyError:
        raise LookupError(f"no workflow named {workflow!r}") from None


def workflow_models() -> dict[str, type[WorkItem]]:
    return dict(_models)
