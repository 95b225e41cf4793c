-- CoinGecko daily history per coin (00:00 UTC points), keyed by altflow asset id (bitcoin,
-- ether) and UTC date: market_chart's price, market cap and 24 h volume in USD, and on dates
-- the chart lacks, the price of /coins/{id}/history (price only: market cap and volume NULL).
-- dataset names the CoinGecko dataset of the row.
WITH chart AS (
    SELECT date, asset, coin_id, price_usd, market_cap_usd, total_volume_usd,
        'market_chart_' || coin_id AS dataset
    FROM raw.coingecko_market_chart
    WHERE price_usd > 0
),
history AS (
    SELECT h.date, h.asset, h.coin_id, h.price_usd, NULL::DOUBLE AS market_cap_usd,
        NULL::DOUBLE AS total_volume_usd, 'coin_history_' || h.coin_id AS dataset
    FROM raw.coingecko_coin_history AS h
    WHERE h.price_usd > 0
        AND NOT EXISTS (SELECT 1 FROM chart AS c WHERE c.coin_id = h.coin_id AND c.date = h.date)
)
SELECT * FROM chart
UNION ALL
SELECT * FROM history
ORDER BY asset, date
