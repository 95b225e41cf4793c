-- Quarter-by-quarter flows of one scenario (change the name), in US$ billion.
SELECT period_end, asset, flow_usd / 1e9 AS flow_billion_usd, holdings_usd / 1e9 AS holdings_billion_usd
FROM marts.scenario_flows
WHERE scenario = 'tdf-sleeve-2pct'
ORDER BY period_end, asset;
