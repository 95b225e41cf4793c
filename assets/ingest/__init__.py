"""Ingest assets: one multi-asset per source, built by :mod:`assets.ingest.factory`.

Each module declares its source's :class:`~assets.ingest.factory.IngestSpec`; every asset
carries the Dagster tag ``source=<id>`` and a non-blocking ``fetch_fresh`` check.
"""
