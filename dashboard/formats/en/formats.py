"""English: Dec 5, 2026, 11:37:38 (Django's own, with seconds and a 24-hour clock)."""

DATETIME_FORMAT = "M j, Y, H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
