-- LBMA daily USD benchmark price per metal (USD per troy ounce): the PM fixing where there
-- is one, else the AM fixing (silver has a single daily price); holidays (null/0) dropped.
SELECT
    date,
    asset,
    usd AS price_usd,
    fixing,
    dataset
FROM raw.lbma_prices
WHERE usd > 0
QUALIFY row_number() OVER (
    PARTITION BY asset, date ORDER BY CASE fixing WHEN 'am' THEN 1 ELSE 0 END
) = 1
ORDER BY asset, date
