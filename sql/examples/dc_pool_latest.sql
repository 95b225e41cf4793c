-- The pool that can shift: the latest value of each retirement series, with its source.
SELECT series, period_end, assets_usd / 1e12 AS assets_trillion_usd, source, url
FROM marts.retirement_assets
QUALIFY period_end = max(period_end) OVER (PARTITION BY series)
ORDER BY assets_usd DESC;
