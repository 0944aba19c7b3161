"""Mitogen's linear strategy (PyPI ``mitogen``, pinned in requirements.txt), found by name.

Ansible looks for strategies in ``strategy_plugins`` (ansible.cfg, and Molecule's
environment); Mitogen installs its own under the venv's site-packages, whose path depends
on the Python version. This file makes it reachable from the project's plugin folder.
Mitogen keeps one Python interpreter per node for the whole run instead of starting one
per task: a no-change site.yml on the lab takes about 2.5 times less time (README,
"Performance"). ``ANSIBLE_STRATEGY=linear`` runs without it.
"""

from __future__ import annotations

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
