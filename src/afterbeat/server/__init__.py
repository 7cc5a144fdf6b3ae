"""The local web service: app and routes, security, live hub, ingest, API models and services."""
