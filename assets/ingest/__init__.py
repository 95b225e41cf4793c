"""Ingest assets: one per source dataset group, each tagged with its source id."""
