"""Static files under content-hashed names: static_url() follows the release's manifest,
and falls back to the plain name where there is none (a source tree, these tests)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import loginapp
from loginapp import STATIC_MANIFEST, ConfigError, static_url

PACKAGE_STATIC = Path(loginapp.__file__).parent / "static"
HASHED = "style.0123456789ab.css"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


@pytest.fixture
def built_static(tmp_path: Path) -> Path:
    """A static folder as a release build leaves it: plain files, a hashed copy, the manifest."""
    static = tmp_path / "static"
    shutil.copytree(PACKAGE_STATIC, static)
    shutil.copyfile(static / "style.css", static / HASHED)
    (static / STATIC_MANIFEST).write_text(json.dumps({"style.css": HASHED}))
    return static


def app_with_static(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask], static: Path
) -> Flask:
    """create_app() as it runs in an installed release whose static folder is `static`."""

    class ReleaseFlask(Flask):
        def __init__(self, import_name: str, **kwargs: Any) -> None:
            super().__init__(import_name, static_folder=str(static), **kwargs)

    monkeypatch.setattr(loginapp, "Flask", ReleaseFlask)
    return make_app()


def test_pages_link_the_hashed_stylesheet_from_the_manifest(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask], built_static: Path
) -> None:
    app = app_with_static(monkeypatch, make_app, built_static)
    with app.test_client() as client:
        page = client.get("/")
        assert page.status_code == 200
        assert STYLESHEET.findall(page.get_data(as_text=True)) == [f"/static/{HASHED}"]
        # The app serves the hashed name itself too (development, or a node reached directly).
        css = client.get(f"/static/{HASHED}")
        assert css.status_code == 200
        assert css.get_data() == (PACKAGE_STATIC / "style.css").read_bytes()
        assert client.get("/static/style.css").status_code == 200


def test_a_name_the_manifest_does_not_list_keeps_its_plain_name(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask], built_static: Path
) -> None:
    app = app_with_static(monkeypatch, make_app, built_static)
    with app.test_request_context("/"):
        assert static_url("style.css") == f"/static/{HASHED}"
        assert static_url("other.css") == "/static/other.css"


def test_without_a_manifest_pages_link_the_plain_name(client: Any, app: Flask) -> None:
    assert not (PACKAGE_STATIC / STATIC_MANIFEST).exists(), "the source tree has no manifest"
    assert app.extensions["loginapp.static_manifest"] == {}
    assert STYLESHEET.findall(client.get("/").get_data(as_text=True)) == ["/static/style.css"]
    with app.test_request_context("/"):
        assert static_url("style.css") == "/static/style.css"


@pytest.mark.parametrize("content", ['["style.css"]', '{"style.css": 1}', "not json"])
def test_a_broken_manifest_stops_the_app_at_start(
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., Flask],
    built_static: Path,
    content: str,
) -> None:
    (built_static / STATIC_MANIFEST).write_text(content)
    with pytest.raises(ConfigError, match=r"manifest\.json"):
        app_with_static(monkeypatch, make_app, built_static)
