"""The altflow Dagster code location: definitions, resources, jobs, schedules and the CLI."""
