-- FRED observations, one row per series and date, missing values ('.') dropped; value_usd
-- converts dollar series (Z.1 levels are in millions) to US dollars, NULL for indexes.
SELECT
    series_id,
    date,
    value,
    units,
    frequency,
    value * usd_per_unit AS value_usd
FROM raw.fred_observations
WHERE value IS NOT NULL
