import socket

from celery import shared_task


@shared_task(name="core.ping")
def ping(token: int) -> dict[str, object]:
    """Answer from whichever process runs tasks: proves the broker round trip (``manage.py health``)."""
    return {"token": token, "host": socket.gethostname()}
