"""JSON schemas of the request bodies, per microversion, as Nova's ``api/openstack/compute/
schemas`` define them. The views validate with them and the OpenAPI document shows them."""
