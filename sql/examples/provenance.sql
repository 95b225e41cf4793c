-- Where every dataset in the warehouse came from, and how fresh it is.
SELECT source, dataset, mode, as_of, retrieved_at, rows, url
FROM marts.sources
ORDER BY source, dataset;
