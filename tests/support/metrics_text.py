"""The Prometheus text exposition a server's /metrics port answers: scraped, parsed, summed."""

from __future__ import annotations

import urllib.request


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def samples(text: str) -> dict:
    """{(name, frozenset(labels.items())): value} of a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(parsed: dict, name: str, **labels) -> float:
    """The sample's value; 0 when absent. Labels not given must match any value (summed)."""
    total = 0.0
    for (n, lab), v in parsed.items():
        if n != name:
            continue
        d = dict(lab)
        if all(d.get(k) == str(w) for k, w in labels.items()):
            total += v
    return total
