-- Nominal and real (CPI-deflated) returns per asset at its latest month end: 1 year, and
-- annualised over 5 and 10 years where the price history is long enough (else NULL).
SELECT
    asset,
    month_end,
    price_usd,
    nominal_return_1y,
    real_return_1y,
    nominal_return_5y_ann,
    real_return_5y_ann,
    nominal_return_10y_ann,
    real_return_10y_ann,
    source
FROM marts.asset_returns
QUALIFY month_end = max(month_end) OVER (PARTITION BY asset)
ORDER BY asset;
