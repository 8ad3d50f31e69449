"""What ``seed_demo`` loads, one module per app it sets up, each acting through that app's services.

``people`` (reference data, the demo sites and one user per role), ``terminology`` (the North
EHR's governed priority map), ``referrals``, ``results`` and ``intake`` (the demo EHR source and
what each workflow needs of it). Every seed is idempotent and returns a line for the output.
Concept maps go through change control like a steward's (``maps.map_seed_active``): drafted and
submitted by one steward, approved and activated by another (four eyes).
"""
