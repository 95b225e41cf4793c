-- Retirement assets by series and quarter-end, in US dollars, long form. ICI series
-- (total_retirement, ira, dc_plans, 401k, 403b, 457, tsp, other_private_dc, private_db,
-- state_local_db, federal_db, government_db, annuities; latest release per quarter) and
-- Federal Reserve Z.1 levels via FRED (private_dc_z1, state_local_dc_z1, federal_dc_z1,
-- dc_plans_z1 = their sum where all three exist, pension_funds_z1). Every row names its
-- source, dataset, release (the latest ICI release that published it, with its release_date;
-- every earlier version is in marts.retirement_vintages), the URL it was read from and the
-- as-of date of that release.
-- Quarters a source did not publish (or altflow could not obtain) are absent, never filled.
WITH ici AS (
    SELECT
        period_end,
        series,
        value_usd AS assets_usd,
        'ici' AS source,
        CASE WHEN document LIKE 'retirement_quarterly_government_db.csv%'
             THEN 'retirement_quarterly_government_db'
             ELSE 'retirement_quarterly' END AS dataset,
        release,
        release_date,
        url,
        as_of,
        document,
        estimated,
        vintages
    FROM staging.ici_retirement_assets
),
z1_levels AS (
    SELECT
        period_end,
        series,
        value_usd AS assets_usd,
        'fred' AS source,
        series_id AS dataset,
        CAST(NULL AS VARCHAR) AS release,
        CAST(NULL AS DATE) AS release_date,
        'https://fred.stlouisfed.org/graph/fredgraph.csv?id=' || replace(series_id, '+', ',')
            AS url,
        max(period_end) OVER (PARTITION BY series) AS as_of,
        'Federal Reserve Z.1 via FRED ' || series_id || ': ' || description
            || ' (' || units || ')' AS document,
        CAST(NULL AS BOOLEAN) AS estimated,
        1 AS vintages
    FROM staging.z1_retirement_series
    WHERE measure = 'level'
)
SELECT * FROM ici
UNION ALL BY NAME
SELECT * FROM z1_levels
ORDER BY series, period_end
