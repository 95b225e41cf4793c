-- CoinGecko /coins/markets: the current price, market cap, 24 h volume and circulating
-- supply per coin, keyed by altflow asset id, with the time CoinGecko last updated it.
SELECT
    asset,
    coin_id,
    symbol,
    price_usd,
    market_cap_usd,
    total_volume_usd,
    circulating_supply,
    last_updated,
    CAST(last_updated AT TIME ZONE 'UTC' AS DATE) AS as_of
FROM raw.coingecko_markets
