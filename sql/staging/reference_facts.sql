-- Curated reference facts (market size, liquidity, private markets), one row per figure with
-- unit, as-of date, source and URL; is_latest marks the latest figure of each asset and
-- metric (by as_of, then file order), older ones are history. NULL values carry a note.
SELECT
    f.asset,
    a.asset_class,
    a.pricing,
    f.metric,
    f.value,
    f.unit,
    f.as_of,
    f.source_name,
    f.url,
    f.note,
    row_number() OVER (
        PARTITION BY f.asset, f.metric ORDER BY f.as_of DESC NULLS LAST, f.line
    ) = 1 AS is_latest
FROM raw.reference_facts AS f
JOIN raw.reference_assets AS a USING (asset)
ORDER BY f.asset, f.metric, f.as_of DESC
