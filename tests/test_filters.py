"""The project's filters (plugins/filter/flask_stack.py) that decide what a run gives the nodes."""

from __future__ import annotations

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import flask_stack


def test_mutual_tls_holds_when_any_app_node_speaks_it_by_its_value_or_the_roles_default() -> None:
    assert flask_stack.mutual_tls(["app1", "app2"], {"app1": {"app_tls": False}, "app2": {}})
    assert not flask_stack.mutual_tls(["app1"], {"app1": {"app_tls": "false"}})
    assert not flask_stack.mutual_tls([], {})
