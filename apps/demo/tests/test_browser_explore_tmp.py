import os, time
import pytest
from django.core.management import call_command
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

def test_explore(live_server, settings):
    settings.DEBUG = True
    t = time.time()
    call_command("seed_demo")
    call_command("demo_start", "--days", "21")
    open("/tmp/shifts/url", "w").write(f"{live_server.url} {time.time()-t:.0f}s")
    while not os.path.exists("/tmp/shifts/stop"):
        time.sleep(2)
