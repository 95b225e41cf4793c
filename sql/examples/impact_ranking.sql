-- Which market moves most: every scenario's assets at the horizon, ranked by permanent price
-- impact (central), with the p05-p95 band and the price it implies (start price x (1 + impact)).
-- Private markets have no market price: their impact is NULL and the note says why.
SELECT
    rank() OVER (ORDER BY price_impact DESC NULLS LAST) AS rank,
    scenario,
    asset,
    horizon_end,
    cumulative_flow_usd,
    share_of_market_cap,
    price_impact,
    price_impact_p05,
    price_impact_p95,
    start_price_usd,
    implied_price_usd,
    implied_price_usd_p05,
    implied_price_usd_p95,
    note
FROM marts.scenario_impact
QUALIFY horizon_end = max(horizon_end) OVER (PARTITION BY scenario)
ORDER BY rank, scenario, asset;
