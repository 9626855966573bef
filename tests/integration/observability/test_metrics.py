"""/metrics through HTTP: counters and histograms move, labelled by route template, never by raw path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.http.helpers import Api, running_api

PROJECT_ROUTE = "/api/v1/projects/{project_id}"


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with running_api() as value:
        yield value


async def scrape(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_and_timed_by_route_template_and_status(api: Api) -> None:
    member = await api.member()
    project = await api.create_project(member)
    before = await scrape(api)

    for _ in range(3):
        ok = await api.client.get(f"/api/v1/projects/{project['id']}", headers=member.headers)
        assert ok.status_code == 200
    missing = await api.client.get("/api/v1/projects/does-not-exist", headers=member.headers)
    assert missing.status_code == 404
    await api.client.get("/no/such/page/12345")

    after = await scrape(api)
    counter = "trellis_http_requests_total"
    ok_labels = {"method": "GET", "route": PROJECT_ROUTE, "status": "200"}
    assert value(after, counter, **ok_labels) - value(before, counter, **ok_labels) == 3
    not_found = {"method": "GET", "route": PROJECT_ROUTE, "status": "404"}
    assert value(after, counter, **not_found) - value(before, counter, **not_found) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, counter, **unmatched) - value(before, counter, **unmatched) == 1

    histogram = {"method": "GET", "route": PROJECT_ROUTE}
    count = "trellis_http_request_duration_seconds_count"
    assert value(after, count, **histogram) - value(before, count, **histogram) == 4
    assert value(after, "trellis_http_request_duration_seconds_sum", **histogram) > value(
        before, "trellis_http_request_duration_seconds_sum", **histogram
    )
    inf_bucket = {**histogram, "le": "+Inf"}
    assert value(after, "trellis_http_request_duration_seconds_bucket", **inf_bucket) == value(
        after, count, **histogram
    )

    routes = {dict(labels).get("route") for name, labels in after if name == counter}
    assert not any(project["id"] in str(route) or "does-not-exist" in str(route) for route in routes)
    assert "/no/such/page/12345" not in routes


async def test_in_flight_gauge_and_the_shared_metrics_are_exported(api: Api) -> None:
    samples = await scrape(api)
    # the scrape itself is in flight while the registry is rendered
    assert value(samples, "trellis_http_requests_in_flight") >= 1
    names = {name for name, _ in samples}
    for expected in ("trellis_rate_limited_total", "trellis_websocket_connections", "trellis_jobs_dead_letters"):
        assert expected in names
    again = await scrape(api)
    scrapes = {"method": "GET", "route": "/metrics", "status": "200"}
    assert value(again, "trellis_http_requests_total", **scrapes) > value(
        samples, "trellis_http_requests_total", **scrapes
    )


async def test_metrics_is_outside_the_api_and_the_openapi_document(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]
    assert (await api.client.get("/api/v1/metrics")).status_code == 404
