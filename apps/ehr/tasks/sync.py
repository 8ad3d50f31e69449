"""Polling and outbox relay tasks (see apps.ehr.services.polling and .outbox)."""
