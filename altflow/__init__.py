"""altflow: retirement-plan flows into alternative assets, and what they do to each market.

Pure domain logic lives here (sources, parsing, warehouse, scenario model) so it can be
imported and tested without Dagster; the Dagster code location is in ``pipelines``.
"""

__version__ = "0.1.0"
