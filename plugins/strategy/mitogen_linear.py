"""Mitogen's linear strategy (PyPI ``mitogen``, pinned in requirements.txt), found by name.

Ansible looks for strategies in ``strategy_plugins`` (ansible.cfg, and Molecule's
environment); Mitogen installs its own under the venv's site-packages, whose path depends
on the Python version. This file makes it reachable from the project's plugin folder.
Mitogen keeps one Python interpreter per node for the whole run instead of starting one
per task: a no-change site.yml on the lab takes about 2.5 times less time (README,
"Performance"). ``ANSIBLE_STRATEGY=linear`` runs without it.

Mitogen takes over the connections it knows by their short names (``ssh``, ``docker``,
...). Molecule's docker driver names its connection by its full name,
``community.docker.docker``, which Mitogen would leave to Ansible: a Python started with
``sudo`` through ``docker exec`` for every task. The names below are mapped to the short
ones, so that Molecule's runs get Mitogen too.
"""

from __future__ import annotations

from typing import Any

import ansible_mitogen.strategy as _mitogen_strategy
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]

# Full names of connections Mitogen handles under their short names.
_SHORT_NAMES = {
    "ansible.builtin.ssh": "ssh",
    "ansible.builtin.local": "local",
    "community.docker.docker": "docker",
}
_mitogen_get_with_context = _mitogen_strategy.wrap_connection_loader__get_with_context


def _get_with_context(name: str, *args: Any, **kwargs: Any) -> Any:
    return _mitogen_get_with_context(_SHORT_NAMES.get(name, name), *args, **kwargs)


# Mitogen installs its wrapper from these module globals when its strategy starts a run.
_mitogen_strategy.REDIRECTED_CONNECTION_PLUGINS = tuple(
    sorted(set(_mitogen_strategy.REDIRECTED_CONNECTION_PLUGINS) | set(_SHORT_NAMES))
)
_mitogen_strategy.wrap_connection_loader__get_with_context = _get_with_context
