-- Retirement assets by series and period end, in US dollars, long form: one row per
-- series and quarter, with the source dataset and URL each figure comes from.
WITH z1_series (series_id, series) AS (
    VALUES ('BOGZ1FL574090055Q', 'private_dc_z1')
)
SELECT
    o.date AS period_end,
    z.series,
    o.value_usd AS assets_usd,
    'fred' AS source,
    o.series_id AS dataset,
    f.url,
    f.as_of
FROM staging.fred_observations AS o
JOIN z1_series AS z USING (series_id)
LEFT JOIN marts.sources AS f ON f.source = 'fred' AND f.dataset = o.series_id
ORDER BY series, period_end
