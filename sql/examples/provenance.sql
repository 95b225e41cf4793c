-- Provenance of a figure: where the latest DC-plan total came from (publisher, release,
-- document URL) and which fetched payload carried it (retrieved when, from where, sha256).
-- Change the series to trace another figure.
SELECT
    r.series,
    r.period_end,
    r.assets_usd,
    r.source,
    r.dataset,
    r.release,
    r.as_of,
    r.url AS document_url,
    s.mode,
    s.retrieved_at,
    s.url AS fetched_from,
    s.sha256
FROM marts.retirement_assets AS r
LEFT JOIN marts.sources AS s USING (source, dataset)
WHERE r.series = 'dc_plans'
QUALIFY r.period_end = max(r.period_end) OVER (PARTITION BY r.series)
ORDER BY s.retrieved_at DESC NULLS LAST;
