"""pixelmill's command-line client: upload, run a function with a live progress bar, list and cancel tasks.

It speaks only to the HTTP API, so it works the same against the local stack
and a deployed one.
"""
