-- Pool statistics per retirement-assets series, the defaults of the scenario model: the
-- latest value, trailing 1/5/10-year compound annual growth (nominal; market returns and net
-- new money together) and, where a published flow series exists (Z.1 transactions), the net
-- contribution rate = trailing four quarters of net transactions / the level a year before.
-- Growth compares the latest quarter with the quarter N years earlier; when that quarter is
-- missing the nearest quarter within one quarter of it is used and the rate is annualised
-- over the actual span (said in note). Every ICI value is the latest release's version
-- (latest_release, latest_release_date say which vintage the latest value is). No value is
-- interpolated; NULL = not derivable.
WITH ra AS (
    SELECT series, period_end, assets_usd, source, document, release, release_date, vintages
    FROM marts.retirement_assets
),
latest AS (
    SELECT
        series,
        period_end AS latest_period_end,
        assets_usd AS latest_assets_usd,
        source,
        document AS latest_document,
        release AS latest_release,
        release_date AS latest_release_date,
        vintages AS latest_vintages
    FROM ra
    QUALIFY row_number() OVER (PARTITION BY series ORDER BY period_end DESC) = 1
),
horizons (years) AS (VALUES (1), (5), (10)),
targets AS (
    SELECT
        l.*,
        h.years,
        CAST(l.latest_period_end - to_years(h.years) AS DATE) AS target
    FROM latest AS l
    CROSS JOIN horizons AS h
),
bases AS (
    SELECT
        t.series,
        t.years,
        t.target,
        r.period_end AS base_period_end,
        r.assets_usd AS base_assets_usd,
        power(
            t.latest_assets_usd / r.assets_usd,
            365.25 / date_diff('day', r.period_end, t.latest_period_end)
        ) - 1 AS cagr
    FROM targets AS t
    JOIN ra AS r
        ON r.series = t.series
        AND abs(date_diff('day', r.period_end, t.target)) <= 92
        AND r.period_end < t.latest_period_end
    QUALIFY row_number() OVER (
        PARTITION BY t.series, t.years
        ORDER BY abs(date_diff('day', r.period_end, t.target)), r.period_end
    ) = 1
),
growth AS (
    SELECT
        series,
        max(cagr) FILTER (WHERE years = 1) AS cagr_1y,
        max(cagr) FILTER (WHERE years = 5) AS cagr_5y,
        max(cagr) FILTER (WHERE years = 10) AS cagr_10y,
        max(base_period_end) FILTER (WHERE years = 1) AS cagr_1y_from,
        max(base_period_end) FILTER (WHERE years = 5) AS cagr_5y_from,
        max(base_period_end) FILTER (WHERE years = 10) AS cagr_10y_from,
        string_agg(
            CASE WHEN base_period_end <> target THEN
                years || 'y growth from ' || base_period_end || ' (no figure for '
                || target || ')'
            END, '; ' ORDER BY years
        ) AS base_note
    FROM bases
    GROUP BY series
),
flows AS (
    SELECT
        l.series,
        sum(z.value_usd) FILTER (WHERE z.measure = 'transactions_quarterly') AS fu_sum,
        count(*) FILTER (WHERE z.measure = 'transactions_quarterly') AS fu_n,
        avg(z.value_usd) FILTER (WHERE z.measure = 'transactions_saar') AS fa_avg,
        count(*) FILTER (WHERE z.measure = 'transactions_saar') AS fa_n
    FROM latest AS l
    JOIN staging.z1_retirement_series AS z
        ON z.series = l.series
        AND z.measure LIKE 'transactions%'
        AND z.period_end > CAST(l.latest_period_end - INTERVAL 1 YEAR AS DATE)
        AND z.period_end <= l.latest_period_end
    GROUP BY l.series
),
contribution AS (
    SELECT
        l.series,
        CASE
            WHEN f.fu_n = 4 THEN f.fu_sum
            WHEN f.fa_n = 4 THEN f.fa_avg
        END / r.assets_usd AS net_contribution_rate,
        CASE
            WHEN f.fu_n = 4 THEN 'net contribution rate = sum of 4 quarters of Z.1 transactions'
            WHEN f.fa_n = 4 THEN 'net contribution rate = mean of 4 quarters of Z.1 transactions'
                || ' (seasonally adjusted annual rate)'
        END || ' to ' || l.latest_period_end || ' / level at ' || r.period_end AS flow_note
    FROM latest AS l
    JOIN flows AS f USING (series)
    JOIN ra AS r
        ON r.series = l.series
        AND r.period_end = CAST(l.latest_period_end - INTERVAL 1 YEAR AS DATE)
    WHERE f.fu_n = 4 OR f.fa_n = 4
)
SELECT
    l.series,
    l.latest_period_end,
    l.latest_assets_usd,
    g.cagr_1y,
    g.cagr_5y,
    g.cagr_10y,
    c.net_contribution_rate,
    l.source,
    g.cagr_1y_from,
    g.cagr_5y_from,
    g.cagr_10y_from,
    l.latest_release,
    l.latest_release_date,
    concat_ws(
        '; ',
        coalesce(
            c.flow_note,
            'net contribution rate not derivable: '
            || CASE WHEN l.source = 'ici'
                THEN 'ICI publishes levels only, so contributions cannot be separated from'
                    || ' market gains'
                ELSE 'no Z.1 transactions series for four full quarters to the latest' END
        ),
        g.base_note,
        CASE WHEN g.cagr_1y IS NULL THEN 'no figure within a quarter of 1 year earlier' END,
        CASE WHEN g.cagr_5y IS NULL THEN 'no figure within a quarter of 5 years earlier' END,
        CASE WHEN g.cagr_10y IS NULL THEN 'no figure within a quarter of 10 years earlier' END,
        CASE WHEN l.source = 'ici' THEN 'latest value from ICI release ' || l.latest_release
            || coalesce(' of ' || l.latest_release_date, ' (release date not known)')
            || CASE WHEN l.latest_vintages > 1 THEN ', the latest of ' || l.latest_vintages
                || ' releases that published it (see marts.retirement_vintages)' ELSE '' END
            || '; growth bases use their own latest release' END,
        CASE WHEN l.source = 'ici' AND l.latest_document NOT LIKE '%_data.xls%'
            THEN 'ICI figures as stated in release text (trillions to one decimal):'
                || ' rates carry that rounding' END
    ) AS note
FROM latest AS l
LEFT JOIN growth AS g USING (series)
LEFT JOIN contribution AS c USING (series)
ORDER BY l.source, l.series
