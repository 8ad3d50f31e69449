from celery import shared_task


@shared_task(name="kpis.rollup_refresh")
def rollup_refresh_task() -> int:
    """Beat, and after a leader changes standard minutes: keep the per-item rollup current (built
    the first time, rebuilt when the definitions changed, else the changed items only)."""
    from .rollup import rollup_rebuild, rollup_refresh

    if rollup_refresh():
        return 0
    return rollup_rebuild()
