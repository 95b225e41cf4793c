-- Federal Reserve Z.1 (Financial Accounts) pension series from FRED, one row per series,
-- measure and quarter-end in US dollars. FRED dates a quarter by its first day (2025-07-01 =
-- 2025 Q3); period_end is the quarter's last day. Levels (FL) are end-of-quarter stocks;
-- transactions are net new money (FU: the quarter's flow; FA: seasonally adjusted annual
-- rate), so market gains = change in level - transactions. dc_plans_z1 = private + state and
-- local + federal DC, only for quarters and measures where all three are published. Only the
-- series registered in altflow.sources.fred.SERIES (and present in FRED) produce rows.
WITH z1 (series_id, series, measure, description) AS (
    VALUES
        ('BOGZ1FL574090055Q', 'private_dc_z1', 'level',
         'Private pension funds; defined contribution plans; total financial assets'),
        ('BOGZ1FU574090055Q', 'private_dc_z1', 'transactions_quarterly',
         'Private pension funds; defined contribution plans; total financial assets, transactions'),
        ('BOGZ1FA574090055Q', 'private_dc_z1', 'transactions_saar',
         'Private pension funds; defined contribution plans; total financial assets, transactions (SAAR)'),
        ('BOGZ1FL224090055Q', 'state_local_dc_z1', 'level',
         'State and local government employee defined contribution retirement funds; total financial assets'),
        ('BOGZ1FU224090055Q', 'state_local_dc_z1', 'transactions_quarterly',
         'State and local government employee defined contribution retirement funds; transactions'),
        ('BOGZ1FA224090055Q', 'state_local_dc_z1', 'transactions_saar',
         'State and local government employee defined contribution retirement funds; transactions (SAAR)'),
        ('BOGZ1FL344090055Q', 'federal_dc_z1', 'level',
         'Federal government employee defined contribution retirement funds (TSP); total financial assets'),
        ('BOGZ1FU344090055Q', 'federal_dc_z1', 'transactions_quarterly',
         'Federal government employee defined contribution retirement funds (TSP); transactions'),
        ('BOGZ1FA344090055Q', 'federal_dc_z1', 'transactions_saar',
         'Federal government employee defined contribution retirement funds (TSP); transactions (SAAR)'),
        ('BOGZ1FL594090005Q', 'pension_funds_z1', 'level',
         'Pension funds (private and public, DB and DC); total financial assets')
),
series AS (
    SELECT
        CAST(last_day(o.date + INTERVAL 2 MONTH) AS DATE) AS period_end,
        z.series,
        z.measure,
        o.series_id,
        o.value_usd,
        o.value AS value_in_units,
        o.units,
        z.description
    FROM staging.fred_observations AS o
    JOIN z1 AS z USING (series_id)
    WHERE o.value_usd IS NOT NULL
)
SELECT * FROM series
UNION ALL
SELECT
    period_end,
    'dc_plans_z1' AS series,
    measure,
    string_agg(series_id, '+' ORDER BY series_id) AS series_id,
    sum(value_usd) AS value_usd,
    sum(value_in_units) AS value_in_units,
    min(units) AS units,
    'Sum of Z.1 private, state and local, and federal DC plans' AS description
FROM series
WHERE series IN ('private_dc_z1', 'state_local_dc_z1', 'federal_dc_z1')
GROUP BY period_end, measure
HAVING count(DISTINCT series) = 3
