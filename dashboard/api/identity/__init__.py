"""The Identity v3 sliver: tokens, the service catalog and the version documents."""
