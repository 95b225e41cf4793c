-- Monthly returns per asset and price series: the month's last price, the nominal return
-- over the month, CPI inflation (CPIAUCSL) and the real (CPI-deflated) return, and trailing
-- 1-, 5- and 10-year annualised returns, nominal and real, at each month end. Only complete
-- months; real returns are NULL where CPI for the month is not (yet) in the warehouse.
WITH prices AS (
    SELECT asset, source, primary_source, date, price_usd FROM marts.market_prices
),
last_dates AS (
    SELECT asset, source, max(date) AS last_date FROM prices GROUP BY asset, source
),
monthly AS (
    SELECT
        p.asset,
        p.source,
        any_value(p.primary_source) AS primary_source,
        CAST(last_day(p.date) AS DATE) AS month_end,
        max(p.date) AS price_date,
        arg_max(p.price_usd, p.date) AS price_usd
    FROM prices AS p
    JOIN last_dates AS l USING (asset, source)
    -- the series' latest month counts only if the series reaches its last calendar day
    WHERE last_day(p.date) < last_day(l.last_date) OR l.last_date = last_day(l.last_date)
    GROUP BY p.asset, p.source, last_day(p.date)
),
cpi AS (
    SELECT CAST(last_day(date) AS DATE) AS month_end, value AS cpi
    FROM staging.fred_observations
    WHERE series_id = 'CPIAUCSL'
),
joined AS (
    SELECT
        m.*,
        c.cpi,
        m1.price_usd AS price_1m,
        c1.cpi AS cpi_1m,
        m12.price_usd AS price_1y,
        c12.cpi AS cpi_1y,
        m60.price_usd AS price_5y,
        c60.cpi AS cpi_5y,
        m120.price_usd AS price_10y,
        c120.cpi AS cpi_10y
    FROM monthly AS m
    LEFT JOIN cpi AS c ON c.month_end = m.month_end
    LEFT JOIN monthly AS m1 ON m1.asset = m.asset AND m1.source = m.source
        AND m1.month_end = last_day(m.month_end - INTERVAL 1 MONTH)
    LEFT JOIN cpi AS c1 ON c1.month_end = last_day(m.month_end - INTERVAL 1 MONTH)
    LEFT JOIN monthly AS m12 ON m12.asset = m.asset AND m12.source = m.source
        AND m12.month_end = last_day(m.month_end - INTERVAL 12 MONTH)
    LEFT JOIN cpi AS c12 ON c12.month_end = last_day(m.month_end - INTERVAL 12 MONTH)
    LEFT JOIN monthly AS m60 ON m60.asset = m.asset AND m60.source = m.source
        AND m60.month_end = last_day(m.month_end - INTERVAL 60 MONTH)
    LEFT JOIN cpi AS c60 ON c60.month_end = last_day(m.month_end - INTERVAL 60 MONTH)
    LEFT JOIN monthly AS m120 ON m120.asset = m.asset AND m120.source = m.source
        AND m120.month_end = last_day(m.month_end - INTERVAL 120 MONTH)
    LEFT JOIN cpi AS c120 ON c120.month_end = last_day(m.month_end - INTERVAL 120 MONTH)
)
SELECT
    asset,
    source,
    primary_source,
    month_end,
    price_date,
    price_usd,
    cpi,
    price_usd / price_1m - 1 AS nominal_return_1m,
    cpi / cpi_1m - 1 AS inflation_1m,
    (price_usd / price_1m) / (cpi / cpi_1m) - 1 AS real_return_1m,
    price_usd / price_1y - 1 AS nominal_return_1y,
    (price_usd / price_1y) / (cpi / cpi_1y) - 1 AS real_return_1y,
    pow(price_usd / price_5y, 1 / 5) - 1 AS nominal_return_5y_ann,
    pow((price_usd / price_5y) / (cpi / cpi_5y), 1 / 5) - 1 AS real_return_5y_ann,
    pow(price_usd / price_10y, 1 / 10) - 1 AS nominal_return_10y_ann,
    pow((price_usd / price_10y) / (cpi / cpi_10y), 1 / 10) - 1 AS real_return_10y_ann,
    nullif(concat_ws('; ',
        CASE WHEN cpi IS NULL THEN 'no CPI for this month in the warehouse: real returns NULL'
            WHEN price_1m IS NOT NULL AND cpi_1m IS NULL
                THEN 'no CPI for the previous month: real_return_1m NULL' END,
        CASE WHEN price_1m IS NULL THEN 'no price for the previous month' END,
        CASE WHEN price_5y IS NULL THEN 'history under 5 years: 5-year returns NULL' END,
        CASE WHEN price_10y IS NULL THEN 'history under 10 years: 10-year returns NULL' END
    ), '') AS note
FROM joined
ORDER BY asset, source, month_end
