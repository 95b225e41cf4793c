-- One row per asset at its latest date: price, market cap, average daily trading volume and
-- annualised volatility of daily log returns (1 and 3 years; annual_volatility is the 3-year
-- figure, else the 1-year one, else the available history, as volatility_window says), with
-- the reference facts used (source, URL, as-of, note). Metals' market cap = above-ground stock
-- (tonnes x 32,150.7466 troy oz per tonne, or troy oz) x latest price; private markets are
-- appraisal-priced (size in aum_usd; no price, volume or volatility). Crypto's market cap and
-- volume come from the latest CoinGecko reading that HAS a cap (a price-only /coins/{id}/history
-- day is newer only in price): market_size_as_of and volume_as_of give their date, which can be
-- older than as_of, and note says so. A return over more than 7 calendar days (a hole in the
-- history) is left out of the volatility. note says why a quantity is NULL.
WITH assets AS (
    SELECT asset, asset_class, pricing, trading_days_per_year FROM staging.reference_assets
),
facts AS (
    SELECT * FROM staging.reference_facts WHERE is_latest
),
prices AS (
    SELECT asset, date, price_usd, source, dataset
    FROM marts.market_prices
    WHERE primary_source
),
last_price AS (
    SELECT asset, date, price_usd, source, dataset
    FROM prices
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY date DESC) = 1
),
returns AS (
    SELECT
        asset,
        date,
        CASE WHEN date - lag(date) OVER (PARTITION BY asset ORDER BY date) <= 7
            THEN ln(price_usd / lag(price_usd) OVER (PARTITION BY asset ORDER BY date)) END AS r
    FROM prices
),
return_stats AS (
    SELECT
        r.asset,
        min(r.date) AS first_date,
        count(r.r) AS n_all,
        stddev_samp(r.r) AS sd_all,
        stddev_samp(r.r) FILTER (WHERE r.date > l.date - INTERVAL 1 YEAR) AS sd_1y,
        count(r.r) FILTER (WHERE r.date > l.date - INTERVAL 1 YEAR) AS n_1y,
        stddev_samp(r.r) FILTER (WHERE r.date > l.date - INTERVAL 3 YEAR) AS sd_3y,
        count(r.r) FILTER (WHERE r.date > l.date - INTERVAL 3 YEAR) AS n_3y
    FROM returns AS r
    JOIN last_price AS l USING (asset)
    GROUP BY r.asset
),
volatility AS (
    SELECT
        s.asset,
        s.first_date,
        -- a window counts if the history reaches back to within a week of its start and
        -- holds at least 80 % of the returns a full window has (no long gaps)
        CASE WHEN s.first_date <= l.date - INTERVAL 1 YEAR + INTERVAL 7 DAY
            AND s.n_1y >= 0.8 * a.trading_days_per_year
            THEN s.sd_1y * sqrt(a.trading_days_per_year) END AS volatility_1y,
        CASE WHEN s.first_date <= l.date - INTERVAL 3 YEAR + INTERVAL 7 DAY
            AND s.n_3y >= 0.8 * 3 * a.trading_days_per_year
            THEN s.sd_3y * sqrt(a.trading_days_per_year) END AS volatility_3y,
        CASE WHEN s.n_all >= 60 THEN s.sd_all * sqrt(a.trading_days_per_year) END
            AS volatility_all
    FROM return_stats AS s
    JOIN last_price AS l USING (asset)
    JOIN assets AS a USING (asset)
),
chart_last AS (
    -- the latest daily row with a market cap (not a price-only coin_history row)
    SELECT asset, coin_id, date, price_usd, market_cap_usd, total_volume_usd
    FROM staging.coingecko_prices
    WHERE market_cap_usd IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY date DESC) = 1
),
chart_volume AS (
    SELECT c.asset, avg(c.total_volume_usd) AS avg_volume_1y
    FROM staging.coingecko_prices AS c
    JOIN chart_last AS l USING (asset)
    WHERE c.date > l.date - INTERVAL 1 YEAR
    GROUP BY c.asset
),
crypto_size AS (
    -- the latest CoinGecko reading: /coins/markets if at least as recent as the daily chart
    SELECT
        coalesce(m.asset, c.asset) AS asset,
        coalesce(m.as_of >= c.date OR c.date IS NULL, false) AS from_markets,
        CASE WHEN m.as_of >= c.date OR c.date IS NULL THEN 'coins_markets'
            ELSE 'market_chart_' || c.coin_id END AS size_dataset,
        'market_chart_' || coalesce(c.coin_id, m.coin_id) AS chart_dataset,
        CASE WHEN m.as_of >= c.date OR c.date IS NULL THEN m.as_of ELSE c.date END AS as_of,
        CASE WHEN m.as_of >= c.date OR c.date IS NULL THEN m.price_usd ELSE c.price_usd END
            AS price_usd,
        CASE WHEN m.as_of >= c.date OR c.date IS NULL THEN m.market_cap_usd
            ELSE c.market_cap_usd END AS market_cap_usd,
        CASE WHEN m.as_of >= c.date OR c.date IS NULL THEN m.total_volume_usd
            ELSE c.total_volume_usd END AS volume_24h_usd,
        CASE WHEN m.as_of >= c.date OR c.date IS NULL THEN m.circulating_supply END
            AS circulating_supply
    FROM staging.coingecko_markets AS m
    FULL OUTER JOIN chart_last AS c USING (asset)
),
crypto_market AS (
    SELECT as_of, total_market_cap_usd, total_volume_usd
    FROM staging.coingecko_global
    QUALIFY row_number() OVER (ORDER BY updated_at DESC) = 1
),
base AS (
    SELECT
        a.asset,
        a.asset_class,
        a.pricing,
        a.trading_days_per_year,
        -- price and its date: crypto takes /coins/markets when it is newer than the history
        CASE WHEN cs.from_markets AND cs.as_of > p.date THEN cs.as_of ELSE p.date END
            AS price_date,
        CASE WHEN cs.from_markets AND cs.as_of > p.date THEN cs.price_usd ELSE p.price_usd END
            AS price_usd,
        CASE WHEN cs.from_markets AND cs.as_of > p.date THEN 'coingecko' ELSE p.source END
            AS source,
        CASE WHEN cs.from_markets AND cs.as_of > p.date THEN 'coins_markets' ELSE p.dataset END
            AS dataset,
        v.volatility_1y,
        v.volatility_3y,
        v.volatility_all,
        v.first_date,
        cs.as_of AS crypto_as_of,
        cs.from_markets,
        cs.size_dataset,
        cs.chart_dataset,
        cs.market_cap_usd AS crypto_market_cap_usd,
        cs.volume_24h_usd,
        cs.circulating_supply,
        cv.avg_volume_1y
    FROM assets AS a
    LEFT JOIN last_price AS p USING (asset)
    LEFT JOIN volatility AS v USING (asset)
    LEFT JOIN crypto_size AS cs USING (asset)
    LEFT JOIN chart_volume AS cv USING (asset)
),
sized AS (
    SELECT
        b.*,
        coalesce(stock.value, stock_oz.value / 32150.7466) AS stock_tonnes,
        coalesce(stock.source_name, stock_oz.source_name) AS stock_source,
        coalesce(stock.url, stock_oz.url) AS stock_url,
        coalesce(stock.as_of, stock_oz.as_of) AS stock_as_of,
        coalesce(stock.note, stock_oz.note) AS stock_note,
        adv.value AS adv_usd,
        adv.source_name AS adv_source,
        adv.url AS adv_url,
        adv.as_of AS adv_as_of,
        adv.note AS adv_note,
        inv.value * 32150.7466 * b.price_usd AS investment_holdings_usd,
        cb.value * 32150.7466 * b.price_usd AS central_bank_holdings_usd,
        etf.value * 32150.7466 * b.price_usd AS etf_holdings_usd,
        aum.value AS aum_usd,
        aum.source_name AS aum_source,
        aum.url AS aum_url,
        aum.as_of AS aum_as_of,
        aum.note AS aum_note,
        dp.value AS dry_powder_usd,
        dp.note AS dry_powder_note,
        fr.value AS annual_fundraising_usd,
        fr.note AS fundraising_note,
        dv.value AS annual_deal_volume_usd,
        dv.note AS deal_volume_note,
        (SELECT max(f.as_of) FROM facts AS f WHERE f.asset = b.asset) AS facts_as_of
    FROM base AS b
    LEFT JOIN facts AS stock ON stock.asset = b.asset AND stock.metric = 'above_ground_stock_tonnes'
    LEFT JOIN facts AS stock_oz
        ON stock_oz.asset = b.asset AND stock_oz.metric = 'above_ground_stock_troy_oz'
    LEFT JOIN facts AS adv ON adv.asset = b.asset AND adv.metric = 'avg_daily_volume_usd'
    LEFT JOIN facts AS inv ON inv.asset = b.asset AND inv.metric = 'investment_holdings_tonnes'
    LEFT JOIN facts AS cb ON cb.asset = b.asset AND cb.metric = 'central_bank_holdings_tonnes'
    LEFT JOIN facts AS etf ON etf.asset = b.asset AND etf.metric = 'etf_holdings_tonnes'
    LEFT JOIN facts AS aum ON aum.asset = b.asset AND aum.metric = 'aum_usd'
    LEFT JOIN facts AS dp ON dp.asset = b.asset AND dp.metric = 'dry_powder_usd'
    LEFT JOIN facts AS fr ON fr.asset = b.asset AND fr.metric = 'annual_fundraising_usd'
    LEFT JOIN facts AS dv ON dv.asset = b.asset AND dv.metric = 'annual_deal_volume_usd'
),
measured AS (
    SELECT
        s.*,
        CASE s.asset_class
            WHEN 'precious_metals' THEN s.stock_tonnes * 32150.7466 * s.price_usd
            WHEN 'crypto' THEN s.crypto_market_cap_usd
        END AS market_cap_usd,
        CASE s.asset_class
            WHEN 'precious_metals' THEN s.adv_usd
            WHEN 'crypto' THEN coalesce(s.avg_volume_1y, s.volume_24h_usd)
        END AS daily_volume_usd,
        coalesce(s.volatility_3y, s.volatility_1y, s.volatility_all) AS annual_volatility,
        CASE
            WHEN s.volatility_3y IS NOT NULL THEN '3y'
            WHEN s.volatility_1y IS NOT NULL THEN '1y'
            WHEN s.volatility_all IS NOT NULL
                THEN 'available history ' || s.first_date || '..' || s.price_date
        END AS volatility_window
    FROM sized AS s
)
SELECT
    m.asset,
    m.asset_class,
    m.pricing,
    CAST(CASE WHEN m.pricing = 'appraisal' THEN coalesce(m.aum_as_of, m.facts_as_of)
        ELSE coalesce(m.price_date, m.facts_as_of) END AS DATE) AS as_of,
    m.price_usd,
    m.market_cap_usd,
    m.daily_volume_usd,
    m.annual_volatility,
    m.volatility_1y,
    m.volatility_3y,
    m.volatility_window,
    CASE WHEN m.pricing = 'appraisal' OR m.source IS NULL THEN 'reference' ELSE m.source END
        AS source,
    CASE WHEN m.pricing = 'appraisal' OR m.source IS NULL THEN 'market_facts' ELSE m.dataset END
        AS dataset,
    CASE WHEN m.pricing = 'appraisal' THEN m.aum_url ELSE src.url END AS url,
    m.stock_tonnes,
    m.investment_holdings_usd,
    m.central_bank_holdings_usd,
    m.etf_holdings_usd,
    m.circulating_supply,
    m.volume_24h_usd,
    CASE WHEN m.asset_class = 'crypto' THEN g.total_market_cap_usd END
        AS asset_class_market_cap_usd,
    CASE WHEN m.asset_class = 'crypto' THEN g.total_volume_usd END
        AS asset_class_volume_24h_usd,
    CASE WHEN m.asset_class = 'crypto' THEN g.as_of END AS asset_class_as_of,
    m.aum_usd,
    m.dry_powder_usd,
    m.annual_fundraising_usd,
    m.annual_deal_volume_usd,
    CASE m.asset_class
        WHEN 'precious_metals' THEN m.stock_source
        WHEN 'crypto' THEN 'coingecko'
        ELSE m.aum_source
    END AS market_size_source,
    CASE m.asset_class
        WHEN 'precious_metals' THEN m.stock_url
        WHEN 'crypto' THEN msrc.url
        ELSE m.aum_url
    END AS market_size_url,
    CAST(CASE m.asset_class
        WHEN 'precious_metals' THEN m.stock_as_of
        WHEN 'crypto' THEN m.crypto_as_of
        ELSE m.aum_as_of
    END AS DATE) AS market_size_as_of,
    CASE m.asset_class WHEN 'precious_metals' THEN m.stock_note ELSE m.aum_note END
        AS market_size_note,
    CASE m.asset_class WHEN 'precious_metals' THEN m.adv_source WHEN 'crypto' THEN 'coingecko'
        END AS volume_source,
    CASE m.asset_class WHEN 'precious_metals' THEN m.adv_url
        WHEN 'crypto' THEN CASE WHEN m.avg_volume_1y IS NOT NULL THEN csrc.url ELSE msrc.url END
        END AS volume_url,
    CAST(CASE m.asset_class WHEN 'precious_metals' THEN m.adv_as_of
        WHEN 'crypto' THEN m.crypto_as_of END AS DATE) AS volume_as_of,
    nullif(concat_ws('; ',
        CASE WHEN m.pricing = 'appraisal' THEN 'appraisal-priced: no market price, market '
            || 'cap, daily volume or market volatility (size is aum_usd)' END,
        CASE WHEN m.pricing = 'market' AND m.price_usd IS NULL
            THEN 'price_usd NULL: no price history in the warehouse' END,
        CASE WHEN m.pricing = 'market' AND m.market_cap_usd IS NULL THEN 'market_cap_usd NULL: '
            || CASE
                WHEN m.price_usd IS NULL THEN 'no price'
                WHEN m.asset_class = 'precious_metals' THEN coalesce(
                    CASE WHEN m.stock_tonnes IS NULL THEN m.stock_note END,
                    'no above-ground stock figure in the reference facts')
                ELSE 'no CoinGecko market cap'
            END END,
        CASE WHEN m.pricing = 'market' AND m.daily_volume_usd IS NULL THEN 'daily_volume_usd '
            || 'NULL: ' || coalesce(m.adv_note, 'no public average daily volume figure') END,
        CASE WHEN m.asset_class = 'crypto' AND m.crypto_as_of < m.price_date
            THEN 'market_cap_usd and volume_24h_usd are CoinGecko''s as of ' || m.crypto_as_of
                || ', the latest day with a market cap; the price of ' || m.price_date || ' is from '
                || m.dataset || ' (price only)' END,
        CASE WHEN m.asset_class = 'crypto' AND m.avg_volume_1y IS NOT NULL THEN 'daily_volume_usd '
            || 'is the mean CoinGecko 24 h volume over the year to ' || m.crypto_as_of END,
        CASE WHEN m.pricing = 'market' AND m.volatility_3y IS NULL THEN 'volatility_3y NULL: '
            || coalesce('price history from ' || m.first_date || ' to ' || m.price_date
                || ' does not cover 3 years of daily prices', 'no price history') END,
        CASE WHEN m.pricing = 'market' AND m.volatility_1y IS NULL THEN 'volatility_1y NULL: '
            || coalesce('price history from ' || m.first_date || ' to ' || m.price_date
                || ' does not cover 1 year of daily prices', 'no price history') END,
        CASE WHEN m.pricing = 'appraisal' AND m.aum_usd IS NULL THEN 'aum_usd NULL: '
            || coalesce(m.aum_note, 'no AUM figure in the reference facts') END,
        CASE WHEN m.pricing = 'appraisal' AND m.dry_powder_usd IS NULL THEN 'dry_powder_usd NULL: '
            || coalesce(m.dry_powder_note, 'no dry-powder figure in the reference facts') END,
        CASE WHEN m.pricing = 'appraisal' AND m.annual_fundraising_usd IS NULL
            THEN 'annual_fundraising_usd NULL: ' || coalesce(m.fundraising_note,
                'no full-year fundraising figure in the reference facts') END,
        CASE WHEN m.pricing = 'appraisal' AND m.annual_deal_volume_usd IS NULL
            THEN 'annual_deal_volume_usd NULL: ' || coalesce(m.deal_volume_note,
                'no annual deal-volume figure in the reference facts') END
    ), '') AS note
FROM measured AS m
LEFT JOIN marts.sources AS src ON src.source = m.source AND src.dataset = m.dataset
LEFT JOIN marts.sources AS msrc ON msrc.source = 'coingecko' AND msrc.dataset = m.size_dataset
LEFT JOIN marts.sources AS csrc ON csrc.source = 'coingecko' AND csrc.dataset = m.chart_dataset
LEFT JOIN crypto_market AS g ON true
WHERE m.price_usd IS NOT NULL OR m.facts_as_of IS NOT NULL
ORDER BY m.asset_class, m.asset
