"""Indico events through the HTTP export API (``/export/event/ID.json?detail=contributions``), cached."""

from __future__ import annotations

import html
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from tagformer.assist.cache import DiskCache
from tagformer.assist.schema import Contribution
from tagformer.errors import ConfigError, DataError

_EVENT = re.compile(r"^(?P<base>https?://[^/]+(?:/[^/]+)*?)/event/(?P<id>[0-9a-zA-Z]+)")
_TAG = re.compile(r"<[^>]+>")


def export_url(event_url: str) -> str:
    """``https://indico.example/event/123/...`` -> ``https://indico.example/export/event/123.json?...``."""
    m = _EVENT.match(event_url.strip())
    if not m:
        raise ConfigError(f"{event_url!r}: not an Indico event address (https://HOST/event/ID/).")
    return f"{m['base']}/export/event/{m['id']}.json?detail=contributions&pretty=no"


def _plain(text: str | None) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", text or "")).split())


def _person(p: dict) -> str:
    name = p.get("fullName") or " ".join(x for x in (p.get("first_name"), p.get("last_name")) if x)
    if "," in name:  # Indico writes "Last, First"
        last, first = (s.strip() for s in name.split(",", 1))
        name = f"{first} {last}"
    return name.strip()


def parse_export(payload: dict, event_url: str = "") -> list[Contribution]:
    """The contributions of an export-API answer (``results[*].contributions``), in timetable order.

    Raises
    ------
    DataError
        If the answer is not an export result.
    """
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise DataError(f"{event_url or 'Indico'}: the answer is not an export-API result (no 'results' list).")
    out = []
    for event in results:
        eid = str(event.get("id", ""))
        for c in event.get("contributions") or []:
            start = c.get("startDate") or {}
            people = c.get("speakers") or c.get("primaryauthors") or []
            out.append(Contribution(
                id=f"indico:{eid}/{c.get('friendly_id', c.get('id', ''))}", title=_plain(c.get("title")),
                abstract=_plain(c.get("description")), authors=[_person(p) for p in people],
                url=c.get("url") or event.get("url", ""), date=start.get("date", "") if isinstance(start, dict) else "",
                source=f"indico:{eid}"))
    out.sort(key=lambda c: c.date)
    return out


def fetch_indico(event_url: str, *, cache: DiskCache | None = None, timeout_s: float = 30.0,
                 delay_s: float = 1.0, log: Callable[[str], None] = print) -> list[Contribution]:
    """Contributions of one Indico event. ``INDICO_TOKEN`` (an API token) is sent when set, for
    protected events. Without network the cached answer is used (with a note); without one, DataError."""
    url = export_url(event_url)
    request = urllib.request.Request(url, headers={"User-Agent": "tagformer-assist"})
    token = os.environ.get("INDICO_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            payload = json.loads(response.read().decode("utf-8"))
        time.sleep(delay_s)  # polite: one event per delay
    except (urllib.error.URLError, OSError, ValueError) as exc:
        cached = cache.get("indico", url) if cache else None
        if cached is None:
            raise DataError(f"cannot read {url} ({type(exc).__name__}: {str(exc)[:160]}) and no cached "
                            "answer for this event.") from None
        log(f"note: {url} unreachable ({type(exc).__name__}); using the cached answer")
        payload = cached
    else:
        if cache:
            cache.put("indico", url, payload)
    return parse_export(payload, event_url)
