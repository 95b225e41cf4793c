-- The pool that can shift: the latest value of each retirement series, with its source.
-- Amounts in US$ (assets_usd); divide by 1e12 for trillions.
SELECT
    series,
    period_end,
    assets_usd,
    assets_usd / 1e12 AS assets_trillion_usd,
    source,
    release,
    as_of,
    url
FROM marts.retirement_assets
QUALIFY period_end = max(period_end) OVER (PARTITION BY series)
ORDER BY assets_usd DESC;
