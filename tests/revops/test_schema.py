"""The OpenAPI schema and the interactive docs, served locally (no CDN)."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_schema_lists_every_endpoint(client_for, viewer):
    response = client_for(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for name in ["accounts", "contacts", "personas", "opportunities", "channels", "campaigns", "teams"]:
        assert f"/api/{name}/" in paths
    assert "/api/events/batch/" in paths


def test_docs_page_uses_local_assets_only(client_for, viewer):
    response = client_for(viewer).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    external = [
        u for u in re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html) if "testserver" not in u
    ]
    assert external == []
    assert "swagger-ui" in html


def test_schema_generates_without_warnings(tmp_path):
    """Every endpoint documents itself well enough that drf-spectacular has nothing to guess."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").stat().st_size > 10_000
