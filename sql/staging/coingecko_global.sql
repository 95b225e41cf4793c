-- CoinGecko /global: the whole crypto market's capitalisation and 24 h volume in USD, with
-- bitcoin's and ether's shares of it (fractions) and the date it refers to.
SELECT
    CAST(updated_at AT TIME ZONE 'UTC' AS DATE) AS as_of,
    updated_at,
    total_market_cap_usd,
    total_volume_usd,
    bitcoin_dominance,
    ether_dominance,
    active_cryptocurrencies
FROM raw.coingecko_global
