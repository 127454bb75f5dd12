"""The local stack: the whole service on one machine from template.yaml (`make dev`)."""
