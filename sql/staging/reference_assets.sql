-- The contract's asset ids with their asset class, pricing (market or appraisal) and the
-- trading days per year used to annualise daily volatility (NULL where not market-priced).
SELECT asset, asset_class, pricing, trading_days_per_year
FROM raw.reference_assets
