-- Provenance of every dataset in the warehouse: the latest fetch of each source dataset,
-- with its URL, when it was retrieved, the date its data runs to, rows and sha256.
SELECT
    source,
    dataset,
    url,
    mode,
    retrieved_at,
    as_of,
    rows,
    sha256,
    loaded_at
FROM raw.fetch_log
QUALIFY row_number() OVER (PARTITION BY source, dataset ORDER BY loaded_at DESC) = 1
ORDER BY source, dataset
