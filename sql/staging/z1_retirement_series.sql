-- Federal Reserve Z.1 (Financial Accounts) pension series from FRED, one row per series,
-- measure and quarter-end in US dollars. FRED dates a quarter by its first day (2025-07-01 =
-- 2025 Q3); period_end is the quarter's last day. Levels (FL) are end-of-quarter stocks;
-- transactions are net new money (FU: the quarter's flow; FA: seasonally adjusted annual
-- rate), so market gains = change in level - transactions. dc_plans_z1 = private + state and
-- local + federal DC, only for quarters and measures where all three are published. The
-- series come from raw.fred_series (the registry altflow.sources.fred.SERIES), not a list here.
WITH z1 AS (
    -- the FRED series registry (altflow.sources.fred.SERIES, written by the FRED ingest):
    -- one list for what is fetched and what is mapped here
    SELECT series_id, series, measure, description
    FROM raw.fred_series
    WHERE z1_code IS NOT NULL
),
series AS (
    SELECT
        CAST(last_day(o.date + INTERVAL 2 MONTH) AS DATE) AS period_end,
        z.series,
        z.measure,
        o.series_id,
        o.value_usd,
        o.value AS value_in_units,
        o.units,
        z.description
    FROM staging.fred_observations AS o
    JOIN z1 AS z USING (series_id)
    WHERE o.value_usd IS NOT NULL
)
SELECT * FROM series
UNION ALL
SELECT
    period_end,
    'dc_plans_z1' AS series,
    measure,
    string_agg(series_id, '+' ORDER BY series_id) AS series_id,
    sum(value_usd) AS value_usd,
    sum(value_in_units) AS value_in_units,
    min(units) AS units,
    'Sum of Z.1 private, state and local, and federal DC plans' AS description
FROM series
WHERE series IN ('private_dc_z1', 'state_local_dc_z1', 'federal_dc_z1')
GROUP BY period_end, measure
HAVING count(DISTINCT series) = 3
