"""Test support shared by every app's tests, outside the app layering.

``tests.plugins.clinops`` is the pytest plugin (registered by the root ``conftest.py``): the
session's reference data, sites and users per role, service availability, browser settings.
The other modules are helpers an app's tests import instead of another app's tests package.
"""
