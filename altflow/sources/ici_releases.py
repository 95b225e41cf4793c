"""ICI release discovery: which quarterly release is the latest, and where its workbook is.

ICI publishes one release a quarter, about 11 weeks after the quarter ends (Q1 in June,
Q2 in September, Q3 in December, Q4 in March of the next year). Its page is
``/statistical-report/ret_YY_qN`` and it links the data workbook ``ret_YY_qN_data.xls``,
uploaded under ``/system/files/YYYY-MM/`` (the upload month, e.g.
``/system/files/2022-03/ret_21_q4_data.xls``); releases before the 2020 site move lived under
``/info/ret_YY_qN_data.xls``. :func:`find_latest_release` steps back quarter by quarter from the
last finished quarter: a 404 for the release page means "not released yet"; for the first page
that exists :func:`fetch_workbook` takes the workbook link from the page, else tries
:data:`DATA_FILE_PATTERNS` (overridable per source). Everything is fetched through the source,
so from ``ALTFLOW_ICI_BASE_URL`` (default https://www.ici.org) plus those paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from altflow.sources.errors import SourceError
from altflow.sources.ici_schema import DATASET, quarter_end

if TYPE_CHECKING:
    from altflow.sources.base import Payload, Source

RELEASE_PAGE_PATH = "/statistical-report/{release}"
# Where the workbook of a release lives when its page does not link it; tried in order.
# Fields: release (ret_25_q1), yy (25), q (1), pub_year / pub_month (the usual upload month).
DATA_FILE_PATTERNS: tuple[str, ...] = (
    "/system/files/{pub_year}-{pub_month:02d}/{release}_data.xls",
    "/info/{release}_data.xls",
)
MAX_STEPS_BACK = 8  # quarters; two years without a release means something else is wrong

_RELEASE = re.compile(r"^ret_(\d{2})_q([1-4])$")


@dataclass(frozen=True, order=True)
class Release:
    """One quarterly release, ``ret_YY_qN``; orders by year, then quarter."""

    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Release:
        match = _RELEASE.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a release id like ret_25_q1")
        return cls(2000 + int(match.group(1)), int(match.group(2)))

    @classmethod
    def last_finished(cls, today: date) -> Release:
        """The quarter before the one `today` falls in."""
        current = cls(today.year, (today.month - 1) // 3 + 1)
        return current.previous()

    @property
    def id(self) -> str:
        return f"ret_{self.year % 100:02d}_q{self.quarter}"

    @property
    def period_end(self) -> date:
        return quarter_end(self.year, self.quarter)

    @property
    def usual_publication(self) -> tuple[int, int]:
        """(year, month) ICI usually publishes it: ~11 weeks after the quarter ends."""
        return (self.year + 1, 3) if self.quarter == 4 else (self.year, self.quarter * 3 + 3)

    def previous(self) -> Release:
        return Release(self.year - 1, 4) if self.quarter == 1 else Release(
            self.year, self.quarter - 1
        )

    def data_paths(self, patterns: tuple[str, ...] = DATA_FILE_PATTERNS) -> list[str]:
        pub_year, pub_month = self.usual_publication
        fields = {"release": self.id, "yy": f"{self.year % 100:02d}", "q": self.quarter,
                  "pub_year": pub_year, "pub_month": pub_month}
        return [p.format(**fields) for p in patterns]


def release_sort_key(release: str) -> tuple[int, int]:
    r = Release.parse(release)
    return (r.year, r.quarter)


def _is_not_found(err: SourceError) -> bool:
    return err.status in (404, 410)


def find_latest_release(source: Source, today: date) -> tuple[Release, Payload]:
    """The newest release whose page exists, stepping back from the last finished quarter."""
    release = Release.last_finished(today)
    tried = []
    for _ in range(MAX_STEPS_BACK):
        try:
            page = source.fetch(release.id, RELEASE_PAGE_PATH.format(release=release.id))
        except SourceError as err:
            if not _is_not_found(err):
                raise
            tried.append(release.id)
            release = release.previous()
            continue
        return release, page
    raise SourceError(
        source.id, DATASET, f"no release page found for {', '.join(tried)} (all 404)"
    )


def data_file_link(release: Release, page: Payload) -> str | None:
    """The path of the release's workbook as the release page links it, if it does."""
    html = page.content.decode("utf-8", errors="replace")
    pattern = re.compile(
        r"""href\s*=\s*["']([^"']*?""" + re.escape(release.id)
        + r"""_data\.xlsx?(?:\?[^"']*)?)["']""",
        re.IGNORECASE,
    )
    match = pattern.search(html)
    if not match:
        return None
    split = urlsplit(urljoin(page.url, match.group(1).replace("&amp;", "&")))
    return split.path + (f"?{split.query}" if split.query else "")


def fetch_workbook(source: Source, release: Release, page: Payload | None = None,
                   patterns: tuple[str, ...] = DATA_FILE_PATTERNS) -> Payload:
    """The release's workbook: the page's link first, then the documented patterns."""
    paths = [data_file_link(release, page)] if page is not None else []
    paths += [p for p in release.data_paths(patterns) if p not in paths]
    misses = []
    for path in filter(None, paths):
        try:
            return source.fetch(DATASET, path)
        except SourceError as err:
            if not _is_not_found(err):
                raise
            misses.append(source.base_url + path)
    raise SourceError(
        source.id, DATASET,
        f"release {release.id} is published but its workbook was not found at"
        f" {', '.join(misses)} (HTTP 404): has ICI moved the data file?",
    )


_PUBLISHED = re.compile(r"Washington,\s*DC[;,]\s*([A-Z][a-z]+\s+\d{1,2},\s*\d{4})")


def published_on(page: Payload) -> date | None:
    """The release date from the page's dateline ("Washington, DC; June 18, 2025"), if any."""
    match = _PUBLISHED.search(page.content.decode("utf-8", errors="replace"))
    if not match:
        return None
    try:
        return datetime.strptime(" ".join(match.group(1).replace(",", " ").split()),
                                 "%B %d %Y").date()
    except ValueError:
        return None
