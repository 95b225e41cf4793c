-- ICI against the Federal Reserve's Z.1 per quarter-end: which pool is which, and how far
-- apart. comparison dc_plans: ICI DC plans vs Z.1 private + state and local + federal DC;
-- private_dc: ICI 401(k) + other private-sector DC vs Z.1 private DC (Z.1 also counts the
-- private share of 403(b) plans, so a ratio below 1 is expected); employer_plans: ICI DC +
-- private DB + government DB vs Z.1 pension funds' total financial assets (Z.1 counts DB
-- plans' claims on sponsors, i.e. unfunded liabilities, which ICI leaves out). difference =
-- ICI - Z.1, ratio = ICI / Z.1; a side with no figure for the quarter is NULL.
WITH ra AS (
    SELECT period_end, series, assets_usd, release FROM marts.retirement_assets
),
by_quarter AS (
    SELECT
        period_end,
        max(assets_usd) FILTER (WHERE series = 'dc_plans') AS ici_dc,
        max(assets_usd) FILTER (WHERE series = '401k') AS ici_401k,
        max(assets_usd) FILTER (WHERE series = 'other_private_dc') AS ici_other_private_dc,
        max(assets_usd) FILTER (WHERE series = 'private_db') AS ici_private_db,
        max(assets_usd) FILTER (WHERE series = 'government_db') AS ici_government_db,
        max(release) FILTER (WHERE series = 'dc_plans') AS ici_dc_release,
        max(release) FILTER (WHERE series = '401k') AS ici_401k_release,
        max(release) FILTER (WHERE series = 'government_db') AS ici_gov_release,
        max(assets_usd) FILTER (WHERE series = 'dc_plans_z1') AS z1_dc,
        max(assets_usd) FILTER (WHERE series = 'private_dc_z1') AS z1_private_dc,
        max(assets_usd) FILTER (WHERE series = 'pension_funds_z1') AS z1_pension_funds
    FROM ra
    GROUP BY period_end
),
pairs AS (
    SELECT period_end, 'dc_plans' AS comparison, 'dc_plans' AS ici_series,
        'dc_plans_z1' AS z1_series, ici_dc AS ici_usd, z1_dc AS z1_usd,
        ici_dc_release AS ici_release
    FROM by_quarter
    UNION ALL
    SELECT period_end, 'private_dc', '401k+other_private_dc', 'private_dc_z1',
        ici_401k + ici_other_private_dc, z1_private_dc, ici_401k_release
    FROM by_quarter
    UNION ALL
    SELECT period_end, 'employer_plans', 'dc_plans+private_db+government_db',
        'pension_funds_z1', ici_dc + ici_private_db + ici_government_db, z1_pension_funds,
        ici_gov_release
    FROM by_quarter
)
SELECT
    period_end,
    comparison,
    ici_series,
    z1_series,
    ici_usd,
    z1_usd,
    ici_usd - z1_usd AS difference_usd,
    ici_usd / z1_usd AS ratio,
    ici_release,
    CASE
        WHEN ici_usd IS NULL THEN 'no ICI figure for this quarter'
        WHEN z1_usd IS NULL THEN 'no Z.1 figure for this quarter'
    END AS note
FROM pairs
WHERE ici_usd IS NOT NULL OR z1_usd IS NOT NULL
ORDER BY comparison, period_end
