"""The FHIR R4 read API over the local store: ``/fhir/metadata``, ``/fhir/<Type>``, ``/fhir/<Type>/<id>``.

Who: integration roles only (permission ``ehr.read_fhir_api``), by DRF token
(``Authorization: Token <key>``, or ``Bearer <key>`` for FHIR clients) or a session. The store
has no site, so this API is **not site-scoped**: whoever holds the permission reads every
resource in the store. Every resource returned that belongs to a patient is access-logged
(``fhir:<Type>/<id>``; ``view`` for read, ``search`` for search).

Choices, also stated in the CapabilityStatement:

- Handling: strict by default. An unknown or unsupported parameter (or modifier), or one
  with an empty value, is a 400 OperationOutcome naming it, because a silently ignored
  ``patient`` filter would return every patient's data. ``Prefer: handling=lenient`` ignores
  such parameters instead and reports them in an OperationOutcome entry (``search.mode``
  ``outcome``); a bad value of a supported parameter is a 400 either way.
- Paging: keyset on ``(last_updated, id)``; ``Bundle.link`` carries ``self``, ``first``,
  ``next`` (``_after=<cursor>``) and ``previous`` (``_before=<cursor>``). Unlike offsets, a
  resource updated while a client pages moves to the end and is never skipped.
- Several sources: the store is keyed by (source, fhir_id). When two sources hold the same
  id, the most recently updated row (then the highest row id) is the resource, for read
  and search alike; if that row is a delete, read answers 410 and search leaves it out.
- Errors: always an OperationOutcome (``apps.core.fhir_outcome``), never an HTML page or a login
  redirect.
"""
