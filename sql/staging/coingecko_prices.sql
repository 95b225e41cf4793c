-- CoinGecko daily history per coin (00:00 UTC points): price, market cap and 24 h volume in
-- USD, keyed by altflow asset id (bitcoin, ether) and UTC date.
SELECT
    date,
    asset,
    coin_id,
    price_usd,
    market_cap_usd,
    total_volume_usd
FROM raw.coingecko_market_chart
WHERE price_usd > 0
ORDER BY asset, date
