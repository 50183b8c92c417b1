"""arXiv listings through the ``arxiv`` client (Atom API), cached on disk, with the client's polite delay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from tagformer.assist.cache import DiskCache
from tagformer.assist.schema import Contribution
from tagformer.errors import ConfigError, DataError


def _stamp(day: str, end: bool) -> str:
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        raise ConfigError(f"{day!r}: dates are YYYY-MM-DD.") from None
    return d.strftime("%Y%m%d") + ("2359" if end else "0000")


def arxiv_query(categories: Sequence[str], since: str | None = None, until: str | None = None) -> str:
    """The API query: ``(cat:A OR cat:B) AND submittedDate:[since TO until]`` (dates YYYY-MM-DD)."""
    cats = [c.strip() for c in categories if c.strip()]
    if not cats:
        raise ConfigError("--arxiv needs at least one category, e.g. hep-ex,physics.ins-det.")
    query = "(" + " OR ".join(f"cat:{c}" for c in cats) + ")"
    if since or until:
        start = _stamp(since, False) if since else "199101010000"
        stop = _stamp(until, True) if until else dt.date.today().strftime("%Y%m%d") + "2359"
        query += f" AND submittedDate:[{start} TO {stop}]"
    return query


def to_contribution(result) -> Contribution:
    """An ``arxiv.Result`` as a :class:`Contribution`."""
    return Contribution(id=f"arXiv:{result.get_short_id()}", title=" ".join(result.title.split()),
                        abstract=" ".join(result.summary.split()), authors=[a.name for a in result.authors],
                        url=result.entry_id, date=result.published.date().isoformat() if result.published else "",
                        source=f"arxiv:{result.primary_category}")


def fetch_arxiv(categories: Sequence[str], since: str | None = None, until: str | None = None, *,
                max_results: int = 200, cache: DiskCache | None = None, query_url: str | None = None,
                delay_s: float = 3.0, retries: int = 3, log: Callable[[str], None] = print) -> list[Contribution]:
    """The submissions of ``categories`` between the dates, newest first.

    ``query_url`` replaces the API address (``http://host/api/query?{}``; tests serve fixtures locally).
    Without network the cached listing of the same query is used (with a note); without one, DataError.
    """
    import arxiv
    import requests

    query = arxiv_query(categories, since, until)
    key = f"{query_url or arxiv.Client.query_url_format}|{query}|{max_results}"
    client = arxiv.Client(page_size=min(max_results, 100), delay_seconds=delay_s, num_retries=retries)
    if query_url:
        client.query_url_format = query_url
    search = arxiv.Search(query=query, max_results=max_results, sort_by=arxiv.SortCriterion.SubmittedDate)
    try:
        found = [to_contribution(r) for r in client.results(search)]
    except (arxiv.ArxivError, requests.RequestException, OSError) as exc:
        cached = cache.get("arxiv", key) if cache else None
        if cached is None:
            raise DataError(f"cannot reach arXiv ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}) and "
                            f"no cached listing for {query!r}.") from None
        log(f"note: arXiv unreachable ({type(exc).__name__}); using the cached listing of {query!r}")
        return [Contribution.model_validate(c) for c in cached]
    if cache:
        cache.put("arxiv", key, [c.model_dump() for c in found])
    return found
