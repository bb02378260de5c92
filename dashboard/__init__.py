"""The edges: settings, ASGI routing, pages, the WebSocket consumer and the REST API.

Edges parse, call one domain function in ``compute``, map errors and render.
"""
