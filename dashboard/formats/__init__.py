"""Date formats per language, over Django's own (``FORMAT_MODULE_PATH``): the pages show
times to the second — an action log is read to the second — which Django's defaults do not.
Anything not set here is Django's format for that language."""
