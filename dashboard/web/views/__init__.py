"""The HTML views of the dashboard and the small JSON endpoints its live script uses."""
