-- ICI retirement assets, one row per series and quarter-end in US dollars: where ICI
-- published a quarter in more than one release (it revises history), the latest release
-- wins (ret_YY_qN ordered by year, then quarter; a re-issued release by its release date);
-- a quarterly row wins over the year-end row of the same date. Every version stays in
-- raw.ici_retirement_assets and marts.retirement_vintages. Missing quarters stay missing:
-- nothing is interpolated.
SELECT
    period_end,
    series,
    value_usd,
    value_billions_usd,
    period,
    frequency,
    estimated,
    release,
    as_of,
    release_date,
    release_date_basis,
    document,
    url,
    count(*) OVER (PARTITION BY period_end, series) AS vintages
FROM raw.ici_retirement_assets
QUALIFY row_number() OVER (
    PARTITION BY period_end, series
    ORDER BY
        2000 + CAST(substr(release, 5, 2) AS INTEGER) DESC,
        CAST(substr(release, 9, 1) AS INTEGER) DESC,
        release_date DESC NULLS LAST,
        frequency = 'quarterly' DESC
) = 1
