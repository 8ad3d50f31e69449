"""`make lint` keeps DESIGN.md's one direction and the types: the contracts in pyproject.toml
hold on the real tree, and they (and mypy's settings) do fail on a violation.

The violations are made in a temporary tree with the same app packages, checked by the real
contracts (less the temporary ignores, which name modules only the real tree has)."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
APPS = (
    "core", "ehr", "terminology", "workflow", "notifications", "referrals", "intake", "results", "kpis", "governance",
    "demo",
)  # fmt: skip


def lint_imports(cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own venv's tool, fixed arguments
        [str(BIN / "lint-imports"), "--no-cache", "--no-logo", *extra],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path):
    """A tree of the same packages, no imports between them, under the real contracts."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = []
    for contract in config["contracts"]:
        contract = {k: v for k, v in contract.items() if k != "ignore_imports"}
        contracts.append(contract)
    lines = ["[tool.importlinter]", f"root_packages = {config['root_packages']!r}".replace("'", '"'), ""]
    for contract in contracts:
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in contract.items():
            rendered = repr(value).replace("'", '"').replace("True", "true").replace("False", "false")
            lines.append(f"{key} = {rendered}")
        lines.append("")
    (tmp_path / "pyproject.toml").write_text("\n".join(lines))
    for package in ("apps", "clinops", "tests", *(f"apps/{app}" for app in APPS)):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    return tmp_path


def write(tree: Path, module: str, source: str) -> None:
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(source)


def test_the_real_tree_keeps_the_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_the_layers_allow_downward_imports(tree):
    write(tree, "apps.ehr.models", "import apps.core\n")
    write(tree, "apps.referrals.models", "import apps.workflow\nimport apps.ehr.models\n")
    write(tree, "apps.kpis.engine", "import apps.referrals.models\n")
    write(tree, "apps.demo.setup", "import apps.kpis.engine\n")
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "imports", "broken"),
    [
        ("apps.core.emergency", "apps.ehr", "apps.core is not allowed to import apps.ehr"),
        ("apps.terminology.api", "apps.ehr", "apps.terminology is not allowed to import apps.ehr"),
        ("apps.workflow.models", "apps.referrals", "apps.workflow is not allowed to import apps.referrals"),
        ("apps.intake.models", "apps.referrals", "apps.intake is not allowed to import apps.referrals"),
        ("apps.kpis.engine", "apps.demo", "apps.kpis is not allowed to import apps.demo"),
        # Tests obey the same layers as the app they test.
        ("apps.core.tests.test_x", "apps.referrals", "apps.core is not allowed to import apps.referrals"),
    ],
)
def test_an_upward_or_sideways_import_breaks_the_layers(tree, module, imports, broken):
    (tree / "apps" / "core" / "tests").mkdir()
    (tree / "apps" / "core" / "tests" / "__init__.py").write_text("")
    write(tree, module, f"import {imports}\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert broken in result.stdout.replace("\n", " ")


def test_only_demo_imports_demo(tree):
    write(tree, "clinops.urls", "import apps.demo\n")
    result = lint_imports(tree, "--contract", "demo-isolated")
    assert result.returncode == 1
    assert "clinops is not allowed to import apps.demo" in result.stdout.replace("\n", " ")


def test_a_new_app_must_be_given_its_layer(tree):
    (tree / "apps" / "billing").mkdir()
    (tree / "apps" / "billing" / "__init__.py").write_text("")
    result = lint_imports(tree, "--contract", "layers")
    assert result.returncode == 1
    assert "apps.billing" in result.stdout


def test_mypy_settings_catch_a_wrong_argument_and_an_implicit_optional(tmp_path):
    """The project's strictness, on a snippet (the plugins are left out: they need Django)."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    flags = [f"--{name.replace('_', '-')}" for name, on in settings.items() if on is True]
    (tmp_path / "snippet.py").write_text(
        "class User: ...\n\n\n"
        "def item_claim(*, item_id: int, by: User) -> None: ...\n\n\n"
        "def item_release(*, item_id: int, by: User = None) -> None: ...\n\n\n"
        'item_claim(item_id="7", by=User())\n'
    )
    result = subprocess.run(  # noqa: S603 - our own venv's tool, fixed arguments
        [str(BIN / "mypy"), "--no-incremental", "--cache-dir", os.devnull, *flags, "snippet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Argument "item_id" to "item_claim" has incompatible type "str"; expected "int"' in result.stdout
    assert 'snippet.py:7: error: Incompatible default for parameter "by"' in result.stdout
