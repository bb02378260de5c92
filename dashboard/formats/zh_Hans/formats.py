"""Simplified Chinese: 2026年12月5日 11:37:38 (Django's own, with seconds)."""

DATETIME_FORMAT = "Y年n月j日 H:i:s"
SHORT_DATETIME_FORMAT = "Y/m/d H:i:s"
