"""Dagster asset and asset-check definitions, by layer: ingest, warehouse, model, report.

Assets are thin: each calls plain functions from the ``altflow`` package.
"""
