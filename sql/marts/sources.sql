-- Provenance of every dataset in the warehouse: the last good fetch of each source dataset,
-- with the service URL, where the bytes really came from (retrieved_from: the service in live
-- mode, the public copy for the snapshot), the manifest's provenance text, when it was
-- retrieved, the date its data runs to, rows and sha256; and its status: fresh (the latest
-- attempt succeeded), stale (the latest attempt failed; the last good data is kept, since
-- stale_since, for the reason given) or failed (never fetched successfully).
WITH attempts AS (
    SELECT
        *,
        max(CASE WHEN status = 'ok' THEN loaded_at END)
            OVER (PARTITION BY source, dataset) AS last_ok_at,
        max(loaded_at) OVER (PARTITION BY source, dataset) AS last_attempt_at
    FROM raw.fetch_log
),

failures_since_ok AS (
    SELECT
        source,
        dataset,
        min(loaded_at) AS stale_since,
        arg_max(reason, loaded_at) AS reason
    FROM attempts
    WHERE status = 'failed' AND (last_ok_at IS NULL OR loaded_at > last_ok_at)
    GROUP BY source, dataset
),

last_good AS (
    SELECT *
    FROM attempts
    QUALIFY row_number() OVER (
        PARTITION BY source, dataset
        ORDER BY (status = 'ok') DESC, loaded_at DESC
    ) = 1
)

SELECT
    g.source,
    g.dataset,
    g.url,
    coalesce(g.retrieved_from, g.url) AS retrieved_from,
    g.provenance,
    CASE
        WHEN g.last_ok_at IS NULL THEN 'failed'
        WHEN f.stale_since IS NOT NULL THEN 'stale'
        ELSE 'fresh'
    END AS status,
    f.stale_since,
    f.reason AS status_reason,
    g.mode,
    CASE WHEN g.status = 'ok' THEN g.retrieved_at END AS retrieved_at,
    CASE WHEN g.status = 'ok' THEN g.as_of END AS as_of,
    CASE WHEN g.status = 'ok' THEN g.rows END AS rows,
    CASE WHEN g.status = 'ok' THEN g.sha256 END AS sha256,
    g.last_attempt_at,
    CASE WHEN g.status = 'ok' THEN g.loaded_at END AS loaded_at
FROM last_good AS g
LEFT JOIN failures_since_ok AS f USING (source, dataset)
ORDER BY g.source, g.dataset
