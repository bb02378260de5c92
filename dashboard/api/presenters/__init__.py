"""Builders of the response bodies that depend on the microversion and on the caller."""
