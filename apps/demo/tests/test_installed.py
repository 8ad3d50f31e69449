"""The demo stays out of production: only the embedded settings install it, and nothing else imports it."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "apps" / "demo"
# Where the string "apps.demo" may appear outside the app: the settings that install it and the
# URLconf that includes its URLs only when it is installed.
# Files that may name apps.demo in a string: the settings that install it, the URLs that include
# it, and the import-linter test that writes upward imports into a scratch tree on purpose.
NAMED_BY = {
    ROOT / "clinops" / "settings" / "embedded.py",
    ROOT / "clinops" / "urls.py",
    ROOT / "apps" / "core" / "tests" / "test_layers.py",
}
DEMO_ONLY_LIBRARIES = ("time_machine",)  # requirements-demo.txt; tests may use them (requirements-dev.txt)
PROBE = """
import json, sys
import django
django.setup()
from django.apps import apps
from django.urls import Resolver404, resolve
import clinops.urls
try:
    resolve("/demo-ehr/fhir/Task/t1")
    demo_url = True
except Resolver404:
    demo_url = False
print(json.dumps({
    "installed": apps.is_installed("apps.demo"),
    "demo_url": demo_url,
    "imported": sorted(m for m in sys.modules if m == "apps.demo" or m.startswith("apps.demo.")),
    "time_machine": "time_machine" in sys.modules,
}))
"""


def settings_probe(module: str, **extra: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    env = {**clean, "DJANGO_SETTINGS_MODULE": module, **extra}
    result = subprocess.run(  # noqa: S603 - our own interpreter with a fixed script
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_do_not_install_or_import_the_demo():
    found = settings_probe(
        "clinops.settings.production",
        DJANGO_SECRET_KEY="x9!" + "k3Zq" * 16,
        DJANGO_ALLOWED_HOSTS="clinops.example.org",
        DATABASE_URL="postgres://clinops@127.0.0.1:5432/clinops",
    )
    assert found == {"installed": False, "demo_url": False, "imported": [], "time_machine": False}


@pytest.mark.parametrize("module", ["clinops.settings.embedded", "clinops.settings.test"])
def test_the_embedded_and_test_settings_install_the_demo_and_its_urls(module):
    found = settings_probe(module)
    assert found["installed"] and found["demo_url"]


def test_manage_wsgi_asgi_and_celery_default_to_the_embedded_settings():
    for name in ("manage.py", "clinops/wsgi.py", "clinops/asgi.py", "clinops/celery.py"):
        assert 'setdefault("DJANGO_SETTINGS_MODULE", "clinops.settings.embedded")' in (ROOT / name).read_text(), name


def _python_files() -> list[Path]:
    roots = [ROOT / "apps", ROOT / "clinops", ROOT / "tests", ROOT / "benchmarks"]
    files = [ROOT / "manage.py", ROOT / "conftest.py"]
    for root in roots:
        files += [path for path in root.rglob("*.py") if DEMO not in path.parents]
    return [path for path in files if path.exists()]


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _is_demo(name: str) -> bool:
    return name == "apps.demo" or name.startswith("apps.demo.")


def test_nothing_outside_apps_demo_imports_it():
    offenders = []
    for path in _python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in _imports(tree) if _is_demo(name)]
        if path not in NAMED_BY:  # import_module("apps.demo…"), include("apps.demo…"), INSTALLED_APPS
            strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            offenders += [f"{path.relative_to(ROOT)} names {s!r}" for s in strings if _is_demo(s)]
    assert offenders == []


def test_demo_only_libraries_are_imported_by_the_demo_and_tests_alone():
    offenders = []
    for path in _python_files():
        if "tests" in path.relative_to(ROOT).parts or path.name in ("conftest.py",):
            continue
        for name in _imports(ast.parse(path.read_text(), filename=str(path))):
            if name.split(".")[0] in DEMO_ONLY_LIBRARIES:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
    assert "time-machine" not in (ROOT / "requirements.txt").read_text()
    assert "time-machine==" in (ROOT / "requirements-demo.txt").read_text()
