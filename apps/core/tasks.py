import socket

from celery import shared_task


@shared_task(name="core.ping")
def ping(token: int) -> dict[str, object]:
    """Answer from whichever process runs tasks: proves the broker round trip (``manage.py health``)."""
    return {"token": token, "host": socket.gethostname()}


@shared_task(name="core.audit_seal_pending")
def audit_seal_pending() -> int:
    """Seal audit rows whose writer found the hash chain busy (apps.core.audit_chain)."""
    from .audit_chain import audit_seal_pending as seal

    return seal()


@shared_task(name="core.audit_anchor")
def audit_anchor() -> bool:
    """Append the audit chain's head to CLINOPS_AUDIT_ANCHOR_FILE (apps.core.audit_chain)."""
    from .audit_chain import audit_anchor_write

    return audit_anchor_write() is not None
