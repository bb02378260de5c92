"""The REST API: a Nova-compatible compute API (``/v2.1``), the Identity v3 sliver stock clients
need to log in (``/identity``), the Image v2 sliver they read image names from (``/image``) and
the OpenAPI document of all three (``/api/schema/``, ``/api/docs/``).

Views parse, call one domain function, and render; errors go through the one handler in
``faults``. State rules live in the action table (``compute.actions``), never here.
"""
