"""Terminology writes: one function per use case (see each module). Re-exported here."""

from .imports import version_import, version_import_file
from .maps import code_system_create, concept_map_create
from .reference import terminology_reference_load
from .unmapped import unmapped_record
from .versions import (
    generation_bump,
    version_activate,
    version_approve,
    version_draft_create,
    version_edit,
    version_reject,
    version_retire,
    version_submit,
    versions_activate_due,
)

__all__ = [
    "code_system_create",
    "concept_map_create",
    "generation_bump",
    "terminology_reference_load",
    "unmapped_record",
    "version_activate",
    "version_approve",
    "version_draft_create",
    "version_edit",
    "version_import",
    "version_import_file",
    "version_reject",
    "version_retire",
    "version_submit",
    "versions_activate_due",
]
