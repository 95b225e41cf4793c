-- Each scenario's cumulative flow at its horizon beside the market that receives it.
SELECT
    i.scenario,
    i.asset,
    i.cumulative_flow_usd / 1e9 AS flow_billion_usd,
    s.market_cap_usd / 1e9 AS market_cap_billion_usd,
    i.share_of_market_cap,
    i.days_of_volume,
    i.price_impact_p05,
    i.price_impact_p50,
    i.price_impact_p95,
    i.note
FROM marts.scenario_impact AS i
LEFT JOIN marts.market_snapshot AS s USING (asset)
QUALIFY i.horizon_end = max(i.horizon_end) OVER (PARTITION BY i.scenario)
ORDER BY i.scenario, i.cumulative_flow_usd DESC;
