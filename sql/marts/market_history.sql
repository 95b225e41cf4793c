-- Point-in-time market state: one row per asset and date, built only from data dated on or
-- before that date (no look-ahead), so a scenario can take each asset's latest row on or
-- before its base date. Market-priced assets get a row per price date of their primary price
-- series: price, market cap, average daily volume and annualised volatility of daily log
-- returns over the trailing window (3 years, else 1 year, else the history so far, as
-- volatility_window says). Metals' market cap is the above-ground stock (the latest reference
-- figure dated on or before the row's date) x 32,150.7466 troy oz per tonne x price; their
-- daily volume is the latest published average dated on or before. Crypto's cap is
-- CoinGecko's, from the latest daily row dated on or before that HAS one (price-only
-- /coins/{id}/history days carry the last chart day's cap and volume, market_size_as_of and
-- volume_as_of say which day), and its daily volume the mean 24 h volume over the trailing year
-- to that day (a newer /coins/markets reading adds one row). A return over more than 7
-- calendar days (a hole in the history, not a weekend or holiday) is left out of the
-- volatility. Appraisal-priced private markets get a row per date
-- on which one of their size figures (AUM, dry powder, annual fundraising) changes, with the
-- latest figure of each on or before it. note says why a quantity is NULL.
WITH assets AS (
    SELECT asset, asset_class, pricing, trading_days_per_year FROM staging.reference_assets
),
facts AS (
    SELECT asset, metric, value, as_of
    FROM staging.reference_facts
    WHERE value IS NOT NULL AND as_of IS NOT NULL
    -- one figure per asset, metric and date (the first in file order, as staging ranks them)
    QUALIFY row_number() OVER (PARTITION BY asset, metric, as_of ORDER BY is_latest DESC) = 1
),
stock AS (
    SELECT asset, as_of, value AS stock_tonnes FROM facts
    WHERE metric = 'above_ground_stock_tonnes'
    UNION ALL
    SELECT f.asset, f.as_of, f.value / 32150.7466 FROM facts AS f
    WHERE f.metric = 'above_ground_stock_troy_oz' AND NOT EXISTS (
        SELECT 1 FROM facts AS t
        WHERE t.asset = f.asset AND t.metric = 'above_ground_stock_tonnes' AND t.as_of = f.as_of)
),
adv AS (
    SELECT asset, as_of, value AS adv_usd FROM facts WHERE metric = 'avg_daily_volume_usd'
),
prices AS (
    SELECT p.asset, p.date, p.price_usd, p.source, p.dataset, a.asset_class, a.pricing,
        a.trading_days_per_year,
        CASE WHEN p.date - lag(p.date) OVER (PARTITION BY p.asset ORDER BY p.date) <= 7
            THEN ln(p.price_usd / lag(p.price_usd) OVER (PARTITION BY p.asset ORDER BY p.date))
            END AS r
    FROM marts.market_prices AS p
    JOIN assets AS a USING (asset)
    WHERE p.primary_source
),
stats AS (
    SELECT
        *,
        min(date) OVER (PARTITION BY asset) AS first_date,
        stddev_samp(r) OVER w1 AS sd_1y,
        count(r) OVER w1 AS n_1y,
        stddev_samp(r) OVER w3 AS sd_3y,
        count(r) OVER w3 AS n_3y,
        stddev_samp(r) OVER wall AS sd_all,
        count(r) OVER wall AS n_all
    FROM prices
    WINDOW
        w1 AS (PARTITION BY asset ORDER BY date
            RANGE BETWEEN (INTERVAL 1 YEAR - INTERVAL 1 DAY) PRECEDING AND CURRENT ROW),
        w3 AS (PARTITION BY asset ORDER BY date
            RANGE BETWEEN (INTERVAL 3 YEAR - INTERVAL 1 DAY) PRECEDING AND CURRENT ROW),
        wall AS (PARTITION BY asset ORDER BY date
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
volatility AS (
    -- a window counts if the history reaches back to within a week of its start and holds at
    -- least 80 % of the returns a full window has (the rule of marts.market_snapshot)
    SELECT
        *,
        CASE WHEN first_date <= date - INTERVAL 1 YEAR + INTERVAL 7 DAY
            AND n_1y >= 0.8 * trading_days_per_year
            THEN sd_1y * sqrt(trading_days_per_year) END AS volatility_1y,
        CASE WHEN first_date <= date - INTERVAL 3 YEAR + INTERVAL 7 DAY
            AND n_3y >= 0.8 * 3 * trading_days_per_year
            THEN sd_3y * sqrt(trading_days_per_year) END AS volatility_3y,
        CASE WHEN n_all >= 60 THEN sd_all * sqrt(trading_days_per_year) END AS volatility_all
    FROM stats
),
chart AS (
    -- the daily rows that carry a market cap (market_chart; not the price-only history rows)
    SELECT * FROM (
        SELECT
            asset,
            date,
            market_cap_usd,
            total_volume_usd,
            avg(total_volume_usd) OVER (PARTITION BY asset ORDER BY date
                RANGE BETWEEN (INTERVAL 1 YEAR - INTERVAL 1 DAY) PRECEDING AND CURRENT ROW)
                AS avg_volume_1y
        FROM staging.coingecko_prices
    )
    WHERE market_cap_usd IS NOT NULL
),
daily AS (
    SELECT
        v.date,
        v.asset,
        v.asset_class,
        v.pricing,
        v.price_usd,
        CASE v.asset_class
            WHEN 'precious_metals' THEN s.stock_tonnes * 32150.7466 * v.price_usd
            WHEN 'crypto' THEN c.market_cap_usd
        END AS market_cap_usd,
        CASE v.asset_class
            WHEN 'precious_metals' THEN d.adv_usd
            WHEN 'crypto' THEN coalesce(c.avg_volume_1y, c.total_volume_usd)
        END AS daily_volume_usd,
        coalesce(v.volatility_3y, v.volatility_1y, v.volatility_all) AS annual_volatility,
        CASE
            WHEN v.volatility_3y IS NOT NULL THEN '3y'
            WHEN v.volatility_1y IS NOT NULL THEN '1y'
            WHEN v.volatility_all IS NOT NULL
                THEN 'available history ' || v.first_date || '..' || v.date
        END AS volatility_window,
        v.source,
        v.dataset,
        CASE v.asset_class WHEN 'precious_metals' THEN s.as_of WHEN 'crypto' THEN c.date END
            AS market_size_as_of,
        CASE v.asset_class WHEN 'precious_metals' THEN d.as_of WHEN 'crypto' THEN c.date END
            AS volume_as_of,
        s.stock_tonnes,
        v.first_date
    FROM volatility AS v
    ASOF LEFT JOIN stock AS s ON s.asset = v.asset AND v.date >= s.as_of
    ASOF LEFT JOIN adv AS d ON d.asset = v.asset AND v.date >= d.as_of
    ASOF LEFT JOIN chart AS c ON c.asset = v.asset AND v.date >= c.date
),
markets_row AS (
    -- a /coins/markets reading newer than the daily history: its price and cap, with the
    -- volume and volatility of the history's last day
    SELECT
        m.as_of AS date,
        l.asset,
        l.asset_class,
        l.pricing,
        m.price_usd,
        m.market_cap_usd,
        l.daily_volume_usd,
        l.annual_volatility,
        l.volatility_window,
        'coingecko' AS source,
        'coins_markets' AS dataset,
        m.as_of AS market_size_as_of,
        l.volume_as_of,
        NULL::DOUBLE AS stock_tonnes,
        l.first_date
    FROM staging.coingecko_markets AS m
    JOIN daily AS l ON l.asset = m.asset
    WHERE m.price_usd > 0
    QUALIFY l.date = max(l.date) OVER (PARTITION BY l.asset) AND m.as_of > l.date
),
appraisal_dates AS (
    SELECT DISTINCT f.asset, f.as_of AS date
    FROM facts AS f
    JOIN assets AS a USING (asset)
    WHERE a.pricing = 'appraisal'
        AND f.metric IN ('aum_usd', 'dry_powder_usd', 'annual_fundraising_usd')
),
appraisal AS (
    SELECT
        d.date,
        d.asset,
        a.asset_class,
        a.pricing,
        (SELECT arg_max(f.value, f.as_of) FROM facts AS f WHERE f.asset = d.asset
            AND f.metric = 'aum_usd' AND f.as_of <= d.date) AS aum_usd,
        (SELECT max(f.as_of) FROM facts AS f WHERE f.asset = d.asset
            AND f.metric = 'aum_usd' AND f.as_of <= d.date) AS aum_as_of,
        (SELECT arg_max(f.value, f.as_of) FROM facts AS f WHERE f.asset = d.asset
            AND f.metric = 'dry_powder_usd' AND f.as_of <= d.date) AS dry_powder_usd,
        (SELECT arg_max(f.value, f.as_of) FROM facts AS f WHERE f.asset = d.asset
            AND f.metric = 'annual_fundraising_usd' AND f.as_of <= d.date)
            AS annual_fundraising_usd
    FROM appraisal_dates AS d
    JOIN assets AS a USING (asset)
),
market AS (
    SELECT * FROM daily
    UNION ALL BY NAME
    SELECT * FROM markets_row
)
SELECT
    CAST(date AS DATE) AS date,
    asset,
    asset_class,
    pricing,
    price_usd,
    market_cap_usd,
    daily_volume_usd,
    annual_volatility,
    volatility_window,
    NULL::DOUBLE AS aum_usd,
    NULL::DOUBLE AS dry_powder_usd,
    NULL::DOUBLE AS annual_fundraising_usd,
    source,
    dataset,
    CAST(date AS DATE) AS as_of,
    CAST(market_size_as_of AS DATE) AS market_size_as_of,
    CAST(volume_as_of AS DATE) AS volume_as_of,
    nullif(concat_ws('; ',
        CASE WHEN market_cap_usd IS NULL THEN 'market_cap_usd NULL: ' || CASE
            WHEN asset_class = 'precious_metals'
                THEN 'no above-ground stock figure dated on or before this date'
            ELSE 'no CoinGecko market cap dated on or before this date' END END,
        CASE WHEN asset_class = 'crypto' AND market_size_as_of < date
            THEN 'market_cap_usd and daily_volume_usd as of ' || market_size_as_of
                || ', the latest CoinGecko day with a market cap (the price of ' || date
                || ' is from ' || dataset || ', price only)' END,
        CASE WHEN daily_volume_usd IS NULL THEN 'daily_volume_usd NULL: '
            || 'no average daily volume figure dated on or before this date' END,
        CASE WHEN annual_volatility IS NULL THEN 'annual_volatility NULL: fewer than 60 daily '
            || 'returns from ' || first_date || ' to this date' END
    ), '') AS note
FROM market
UNION ALL
SELECT
    CAST(date AS DATE),
    asset,
    asset_class,
    pricing,
    NULL::DOUBLE,
    NULL::DOUBLE,
    NULL::DOUBLE,
    NULL::DOUBLE,
    NULL::VARCHAR,
    aum_usd,
    dry_powder_usd,
    annual_fundraising_usd,
    'reference',
    'market_facts',
    CAST(date AS DATE),
    CAST(aum_as_of AS DATE),
    NULL::DATE,
    nullif(concat_ws('; ',
        'appraisal-priced: no market price, market cap, daily volume or market volatility',
        CASE WHEN aum_usd IS NULL THEN 'aum_usd NULL: no AUM figure dated on or before this date'
            END,
        CASE WHEN dry_powder_usd IS NULL
            THEN 'dry_powder_usd NULL: no dry-powder figure dated on or before this date' END,
        CASE WHEN annual_fundraising_usd IS NULL THEN 'annual_fundraising_usd NULL: '
            || 'no full-year fundraising figure dated on or before this date' END
    ), '')
FROM appraisal
ORDER BY asset, date
