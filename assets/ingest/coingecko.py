"""CoinGecko API v3 (global market, coin markets, daily history) into raw.coingecko_* tables."""

from altflow.sources import coingecko
from assets.ingest.factory import IngestSpec, ingest_asset

SPEC = IngestSpec(
    coingecko.CoinGecko,
    {
        coingecko.GLOBAL_TABLE: "CoinGecko /global: total crypto market capitalisation and "
        "24 h trading volume in USD, bitcoin and ether dominance, at its updated_at time.",
        coingecko.MARKETS_TABLE: "CoinGecko /coins/markets (vs_currency=usd, "
        "ids=bitcoin,ethereum): current price, market cap, 24 h volume and circulating supply "
        "per coin.",
        coingecko.CHART_TABLE: "CoinGecko /coins/{id}/market_chart for bitcoin and ethereum "
        "(asset ether): price, market cap and 24 h volume in USD, one row per coin and UTC "
        "date (the last point of each UTC day, whatever granularity CoinGecko served).",
        coingecko.HISTORY_TABLE: "CoinGecko /coins/{id}/history prices (00:00 UTC of each date) "
        "for bitcoin and ethereum, price only, from the embedded snapshot (snapshot-only; empty "
        "in live runs).",
    },
    name="coingecko_raw",
)
coingecko_raw = ingest_asset(SPEC)
