from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "apps.results"
    label = "results"
    verbose_name = "Results follow-up"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register
        from apps.ehr.handlers import batch_handler_register
        from apps.terminology.impact import impact_provider_register
        from apps.workflow.registry import workflow_register
        from apps.workflow.worklist import worklist_register

        from . import handlers
        from .impact import result_impact, results_reroute
        from .models import ResultItem
        from .policy import ResultPolicy
        from .worklist import RESULT_WORKLIST

        workflow_register(ResultItem, policy=ResultPolicy())
        worklist_register(RESULT_WORKLIST)
        # The stewards' impact preview and the re-route on activation: one selection.
        impact_provider_register(result_impact, reroute=results_reroute)
        batch_handler_register("DiagnosticReport", handlers.on_results)
        batch_handler_register("Observation", handlers.on_results)
        nav_register(NavEntry("Results inbox", "results:inbox", order=20, permission="core.review_results"))
        nav_register(NavEntry("Results worklist", "results:worklist", order=21, check=RESULT_WORKLIST.may_open))
