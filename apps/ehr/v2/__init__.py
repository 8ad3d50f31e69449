"""HL7 v2 inbound: reading messages (``message``), acknowledging them (``ack``), MLLP framing
(``mllp``) and conversion to FHIR R4 (``convert``). The service that stores and answers them is
``apps.ehr.services.v2_inbox``; the listener is ``manage.py hl7_listen``."""
