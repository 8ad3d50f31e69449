from celery import shared_task


@shared_task(name="workflow.sla_sweep")
def sla_sweep_task() -> int:
    """Beat: escalate items past their SLA to the supervisor queue."""
    from .services import sla_sweep

    return sla_sweep()
