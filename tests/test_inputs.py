"""Bad inputs are refused before any node changes, one message per wrong variable.

playbooks/plays/inputs.yml (imported by rolling.yml before the deploy lock) checks
every role's inputs on every node in one task (plugins/action/inputs_check.py; its own
tests are in tests/test_inputs_checker.py). Here it runs against an inventory of local hosts
(one front, one app node): no container and no change, only the checks. Each round sets
several wrong variables at once (read from a vars file, never from the command line);
the run must fail and name exactly those variables, each in its own message.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

PLACEHOLDER = "change-me-to-a-long-random-string-of-48-or-more-chars"  # inventory/example's vault
LOW_ENTROPY = "ab" * 24

# (variable, wrong value): breakouts from a configuration file, negative limits, bad
# formats, placeholder secrets. Variables are unique within a round.
ROUNDS: list[dict[str, object]] = [
    {
        "nginx_static_root": "/; autoindex on; #",
        "nginx_csp": "default-src 'self'\" always; add_header X-Evil \"1",
        "nginx_login_rate": "10r/m; allow all",
        "nginx_status_port": 70000,
        "nginx_client_max_body_size": "1m;\n",
        "app_tasks_max": -1,
        "app_nofile_limit": -5,
        "app_environment": {"LOGINAPP_ENV": "production\nLOGINAPP_DEBUG=1"},
        "tls_site_names": ["evil.example; include /etc/passwd"],
        "tls_cert_days": 5000,
        "firewall_ssh_sources": ["10.0.0.0/8; accept"],
        "ssh_max_auth_tries": -1,
        "common_timezone": "Europe/Berlin\nfoo",
        "nginx_permissions_policy": "camera=()\nX-Evil: 1",
        "nginx_extra_server_directives": ["} server { listen 8080; root /;"],
        "nginx_worker_processes": "auto; user root",
        "app_module": "loginapp.wsgi:app\nimport os",
        "app_socket_allow": ["10.0.0.0/8", "any; x"],
        "app_root": "/etc",
        "app_upstream_address": "10.1.0.21:8000 backup; server 203.0.113.9:80",
    },
    {
        "app_secret_environment": {"LOGINAPP_SECRET_KEY": PLACEHOLDER},
        "app_workers": -2,
        "app_memory_max": "512M\nMemoryMax=infinity",
        "nginx_static_root": "/",
        "nginx_server_names": ["ok.example", "bad name"],
        "tls_ca_days": -1,
        "ssh_extra_settings": {"X11Forwarding": "yes\nPermitRootLogin yes"},
        "app_login_concurrency": -1,
        "app_health_path": "/healthz; rm",
        "app_config_dir": "//",
        "tls_ca_common_name": 'CA"; x',
    },
    {
        "app_secret_environment": {"LOGINAPP_SECRET_KEY": "Tiny-Key-9"},
        "app_port": 0,
        "nginx_static_root": "/srv/../etc",
        "nginx_tasks_max": -1,
        "nginx_acme_webroot": "/var/www/acme; autoindex on",
        "app_readwrite_paths": ["/var/lib/x", "/"],
        "tls_site_names": ["*.com"],
        # Not in a round with app_cpu_quota: a message is matched to a variable by its name.
        "app_cpu_quota_period": "100us",
        "app_release_command": "flask db upgrade\nrm -rf /",
        "nginx_trusted_proxies": ["10.0.0.0/8; allow all"],
        "nginx_maintenance_allow": ["192.0.2.0/24", "300.1.2.3"],
        "nginx_maintenance_message": "Back soon\n<script>",
        "nginx_error_retry_after": 0,
    },
    # A type the argument specs refuse stops that role before its table (its other
    # variables would go unnamed), so it gets a round of its own.
    {
        "nginx_upstream_method": "random",
        "app_threads": -1,
        "app_secret_environment": {"LOGINAPP_SECRET_KEY": LOW_ENTROPY},
        "tls_cert_path": "/etc/ssl/flask-stack/site.crt\n",
    },
    # Role tls's mode acme (its values are checked in every mode).
    {
        "tls_acme_directory": "http://acme.example/dir",
        "tls_acme_renew_days": 0,
        "tls_acme_email": "ops@example.org\nBcc: all@example.org",
    },
    # Role app's inputs that are not numbers or sizes at all (its scenario converges once,
    # with other wrong inputs, to show that the node is left as it was).
    {
        "app_cpu_quota": "lots",
        "app_memory_max": "huge",
        "app_port": "not-a-port",
        "app_keep_releases": "many",
        "app_tasks_max": -1,
        "app_secret_environment": {"LOGINAPP_SECRET_KEY": PLACEHOLDER},
    },
]
# The words of some messages, wherever their variable is wrong.
MESSAGES = {
    "app_tasks_max": "app_tasks_max must be between 16 and",
    "app_port": "app_port must be between 1 and 65535",
    "app_keep_releases": "app_keep_releases must be between 2 and",
    "app_cpu_quota_period": "app_cpu_quota_period must be a period from '1ms' to '1000ms'",
    "app_secret_environment": "app_secret_environment.LOGINAPP_SECRET_KEY must be a random key of at least 32",
    "tls_acme_directory": "tls_acme_directory must be the https:// URL of the ACME server's directory",
    "tls_acme_renew_days": "tls_acme_renew_days must be between 1 and 3650",
}
SECRET_VALUES = [PLACEHOLDER, "Tiny-Key-9", LOW_ENTROPY]


def write_inventory(directory: Path) -> Path:
    """One front and one app node, both this machine (connection local), valid inputs."""
    python = sys.executable
    hosts = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": python},
            "children": {
                "fronts": {"hosts": {"front1": {}}},
                "apps": {"hosts": {"app1": {}}},
            },
        }
    }
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    group_vars = directory / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    good = {
        "tls_site_names": ["flask-stack.test"],
        "tls_ca_dir": str(directory / "ca"),
        "app_secret_environment": {"LOGINAPP_SECRET_KEY": secrets.token_urlsafe(48)},
        "app_config_files": [{"name": "users", "content": "demo:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\n"}],
    }
    (group_vars / "main.yml").write_text(yaml.safe_dump(good))
    playbook = directory / "check.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {"name": "Read the facts the checks use", "hosts": "all", "gather_facts": True, "tasks": []},
                {"import_playbook": str(ROOT / "playbooks" / "plays" / "inputs.yml")},
            ],
            sort_keys=False,
        )
    )
    return playbook


def run_checks(directory: Path, playbook: Path, wrong: dict[str, object]) -> tuple[int, list[str], str]:
    """Run the checks with the wrong values; return the exit code, every failure message and the output."""
    extra = directory / "wrong.yml"
    extra.write_text(yaml.safe_dump(wrong))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
        "ANSIBLE_CACHE_PLUGIN": "memory",
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(directory / "hosts.yml"),
         "-e", f"@{extra}", str(playbook)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    messages = []
    for play in json.loads(result.stdout)["plays"]:
        for task in play["tasks"]:
            for outcome in task["hosts"].values():
                for item in outcome.get("results", [outcome]):
                    if item.get("failed"):
                        messages += failure_messages(item)
    return result.returncode, messages, result.stdout + result.stderr


def failure_messages(item: dict[str, object]) -> list[str]:
    """A failed task's messages: the checker's one per wrong variable, then its last line."""
    msg = str(item.get("msg", ""))
    wrong = item.get("inputs_wrong")
    if not isinstance(wrong, list):
        return [msg]
    # The message the terminal shows has the same lines, each variable on a line of its own.
    assert msg.splitlines()[:-1] == wrong, msg
    return [str(message) for message in wrong] + msg.splitlines()[-1:]


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inputs")
    playbook = write_inventory(directory)
    return lambda wrong: run_checks(directory, playbook, wrong)


@pytest.fixture(scope="module")
def good(checks) -> tuple[int, list[str], str]:
    """One run with the good inputs, read by the tests that need no wrong value."""
    return checks({})


def test_good_inputs_pass(good) -> None:
    code, messages, output = good
    assert code == 0 and messages == [], output[-3000:]


def test_every_role_of_a_node_is_checked_in_one_task(good) -> None:
    code, _, output = good
    assert code == 0, output[-3000:]
    report, _ = json.JSONDecoder().raw_decode(output)  # stdout (the JSON report), then stderr
    inputs = next(
        play for play in report["plays"] if play["play"]["name"] == "Check every role's inputs before anything changes"
    )
    checked = {
        host: outcome["roles"]
        for task in inputs["tasks"]
        for host, outcome in task["hosts"].items()
        if "roles" in outcome
    }
    assert checked == {
        "front1": ["common", "ssh", "firewall", "tls", "nginx", "vip"],
        "app1": ["common", "ssh", "firewall", "app"],
    }
    names = [task["task"]["name"] for task in inputs["tasks"]]
    # One such task ran on each node (Mitogen's strategy may report a task once per batch of hosts).
    runs = [
        host
        for task in inputs["tasks"]
        if task["task"]["name"] == "Check the inputs of every role this node runs"
        for host in task["hosts"]
    ]
    assert sorted(runs) == ["app1", "front1"], names
    assert not [name for name in names if name.startswith("Check the inputs of role")], names


@pytest.mark.parametrize("wrong", ROUNDS, ids=lambda r: ",".join(r))
def test_each_wrong_input_is_named_in_its_own_message(checks, wrong) -> None:
    code, messages, output = checks(wrong)
    assert code != 0, f"the checks passed with {sorted(wrong)}"
    assert any("Nothing was changed" in m for m in messages), messages
    per_variable = [m for m in messages if "Nothing was changed" not in m]
    named = {name for name in wrong if any(name in m for m in per_variable)}
    assert named == set(wrong), f"not named: {sorted(set(wrong) - named)}\n" + "\n".join(per_variable)
    for message in per_variable:
        assert sum(name in message for name in wrong) == 1 or len(wrong) == 1, f"one variable per message: {message}"
    for name in wrong.keys() & MESSAGES.keys():
        assert any(MESSAGES[name] in m for m in per_variable), f"no message says {MESSAGES[name]!r}"
    for secret in SECRET_VALUES:
        assert secret not in output, "a secret value was printed"
