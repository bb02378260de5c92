"""The OpenAPI document: its components, the helpers views document themselves with, and the
pages that serve it."""
