-- Quarter-by-quarter flows of every scenario, one column per asset class and the total (US$).
-- "How fast": the central path; flow_usd_p05/p95 in marts.scenario_flows give the band.
SELECT
    scenario,
    period_end,
    sum(flow_usd) FILTER (WHERE asset_class = 'precious_metals') AS precious_metals_usd,
    sum(flow_usd) FILTER (WHERE asset_class = 'crypto') AS crypto_usd,
    sum(flow_usd) FILTER (WHERE asset_class = 'private_markets') AS private_markets_usd,
    sum(flow_usd) AS total_flow_usd,
    sum(sum(flow_usd)) OVER (PARTITION BY scenario ORDER BY period_end) AS cumulative_flow_usd
FROM marts.scenario_flows
GROUP BY scenario, period_end
ORDER BY scenario, period_end;
