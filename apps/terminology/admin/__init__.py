"""The stewards' workplace: code systems, concept maps and their versions, the unmapped codes.

State is read-only here; every transition is a button that calls a service
(``apps.terminology.services``), never django-fsm's admin mixin. Stewards change, other
staff read.
"""

from . import codesystems, maps, unmapped, versions

__all__ = ["codesystems", "maps", "unmapped", "versions"]
