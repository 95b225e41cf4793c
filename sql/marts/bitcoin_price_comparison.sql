-- Bitcoin's two daily histories side by side: CoinGecko (aggregate, 00:00 UTC point of the
-- date) and Coinbase via FRED CBBTCUSD, on every date either has. diff_share is CoinGecko
-- over Coinbase minus 1; the next-day columns pair Coinbase's date with CoinGecko's 00:00
-- UTC point of the following date, in case the two stamp the same close differently.
WITH coingecko AS (
    SELECT date, price_usd FROM marts.market_prices
    WHERE asset = 'bitcoin' AND source = 'coingecko'
),
coinbase AS (
    SELECT date, price_usd FROM marts.market_prices
    WHERE asset = 'bitcoin' AND source = 'fred' AND dataset = 'CBBTCUSD'
),
paired AS (
    SELECT
        coalesce(g.date, b.date) AS date,
        g.price_usd AS coingecko_price_usd,
        b.price_usd AS coinbase_price_usd
    FROM coingecko AS g
    FULL OUTER JOIN coinbase AS b USING (date)
)
SELECT
    p.date,
    p.coingecko_price_usd,
    p.coinbase_price_usd,
    p.coingecko_price_usd - p.coinbase_price_usd AS diff_usd,
    p.coingecko_price_usd / p.coinbase_price_usd - 1 AS diff_share,
    n.price_usd AS coingecko_next_day_price_usd,
    n.price_usd / p.coinbase_price_usd - 1 AS diff_share_next_day,
    p.coingecko_price_usd IS NOT NULL AND p.coinbase_price_usd IS NOT NULL AS in_both
FROM paired AS p
LEFT JOIN coingecko AS n ON n.date = p.date + 1
ORDER BY p.date
