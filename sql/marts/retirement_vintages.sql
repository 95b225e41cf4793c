-- Every published version of every ICI figure: one row per quarter-end, series and release
-- (a re-issued release counts once per release date), in US dollars, with how the figure
-- moved from the previous version (revision_usd) and whether it is the version the other
-- marts use (is_latest; the same ordering as staging.ici_retirement_assets). Year-end rows
-- of a workbook are left out where the same release also gives the quarter (Q4).
WITH v AS (
    SELECT
        period_end,
        series,
        release,
        release_date,
        release_date_basis,
        value_usd AS assets_usd,
        'ici' AS source,
        estimated,
        url,
        document,
        row_number() OVER (
            PARTITION BY period_end, series
            ORDER BY
                2000 + CAST(substr(release, 5, 2) AS INTEGER),
                CAST(substr(release, 9, 1) AS INTEGER),
                release_date NULLS FIRST
        ) AS vintage
    FROM raw.ici_retirement_assets
    QUALIFY row_number() OVER (
        PARTITION BY period_end, series, release, release_date
        ORDER BY frequency = 'quarterly' DESC
    ) = 1
)
SELECT
    period_end,
    series,
    release,
    release_date,
    release_date_basis,
    assets_usd,
    source,
    vintage,
    count(*) OVER (PARTITION BY period_end, series) AS vintages,
    vintage = count(*) OVER (PARTITION BY period_end, series) AS is_latest,
    lag(release) OVER w AS previous_release,
    assets_usd - lag(assets_usd) OVER w AS revision_usd,
    estimated,
    url,
    document
FROM v
WINDOW w AS (PARTITION BY period_end, series ORDER BY vintage)
ORDER BY series, period_end, vintage
