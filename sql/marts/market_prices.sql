-- Daily USD prices per asset, long form: LBMA benchmark prices (PM, else AM) for the metals,
-- CoinGecko's daily 00:00 UTC prices for bitcoin and ether (market_chart, and on dates it lacks
-- /coins/{id}/history; dataset says which), and FRED's Coinbase series CBBTCUSD as a second
-- bitcoin history. primary_source marks the one series per asset the other marts use.
WITH prices AS (
    SELECT date, asset, price_usd, 'lbma' AS source, dataset, 1 AS rank
    FROM staging.lbma_prices
    UNION ALL
    SELECT date, asset, price_usd, 'coingecko', dataset, 1
    FROM staging.coingecko_prices
    UNION ALL
    SELECT date, 'bitcoin', value, 'fred', series_id, 2
    FROM staging.fred_observations
    WHERE series_id = 'CBBTCUSD' AND value > 0
)
SELECT
    date,
    asset,
    price_usd,
    source,
    dataset,
    source = first_value(source) OVER (PARTITION BY asset ORDER BY rank, source)
        AS primary_source
FROM prices
ORDER BY asset, source, date
