"""Every app's tests share one plugin of fixtures: tests/plugins/clinops.py."""

pytest_plugins = ["tests.plugins.clinops"]
