"""The assets altflow follows: ids, asset classes and how each class trades.

Shared by the sources (reference registry), the SQL marts (via raw.reference_assets) and the
scenario engine, so every layer agrees on the same ids (contract section 4).
"""

from __future__ import annotations

ASSET_CLASS: dict[str, str] = {
    "gold": "precious_metals",
    "silver": "precious_metals",
    "platinum": "precious_metals",
    "palladium": "precious_metals",
    "bitcoin": "crypto",
    "ether": "crypto",
    "private_equity": "private_markets",
    "private_credit": "private_markets",
    "real_estate": "private_markets",
    "infrastructure": "private_markets",
}
CLASSES: dict[str, tuple[str, ...]] = {}
for _asset, _cls in ASSET_CLASS.items():
    CLASSES[_cls] = (*CLASSES.get(_cls, ()), _asset)

# Convention: metals trade ~252 days a year (63 a quarter); crypto every calendar day.
# Private markets are appraisal-priced and have no daily trading.
TRADING_DAYS_PER_YEAR: dict[str, float] = {"precious_metals": 252.0, "crypto": 365.0}
APPRAISAL_CLASSES = ("private_markets",)
