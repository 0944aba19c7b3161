"""Role monitor's alert rules, rendered from their template as the role renders them, checked by
Debian's promtool (`promtool check rules`) and unit-tested with recorded series (`promtool
test rules`): each alert fires after its window with the node and what to run, not before, and
not for what it must leave alone. promtool comes from scripts/ensure-promtool (make test-controller)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "roles" / "monitor" / "templates" / "alerts.yml.j2"
DEFAULTS = yaml.safe_load((ROOT / "roles" / "monitor" / "defaults" / "main.yml").read_text())
PROMTOOL = ROOT / ".cache" / "promtool" / "promtool"
APP = "flaskapp"
VIP = "172.30.77.10"  # role vip's vip_address (vars/main.yml's __monitor_vip)
VIP_URL = f"https://{VIP}/"
FRONT2_HTTP = "http://10.0.0.2/"


def render(**overrides: Any) -> str:
    """The rules file as role monitor writes it, with the role's defaults and one app service."""
    # As Ansible's template module renders it (trim_blocks).
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    env.filters["comment"] = lambda text: "\n".join(f"# {line}" for line in str(text).splitlines())
    # vars/main.yml's __monitor_app_units for one app node's service.
    values = {
        **DEFAULTS,
        "ansible_managed": "Ansible managed",
        "__monitor_app_units": f"{re.escape(APP)}[.]service",
        "__monitor_vip": VIP,
        **overrides,
    }
    return env.from_string(TEMPLATE.read_text()).render(values)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run scripts/ensure-promtool (make test-controller does)"
    return subprocess.run([str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, check=False)


def node_down(node: str) -> dict[str, Any]:
    return {
        "exp_labels": {"alertname": "NodeDown", "severity": "critical", "job": "node", "node": node},
        "exp_annotations": {
            "summary": f"{node} does not answer the monitor (its node exporter is down or the node is)",
            "description": f"Run `make status`, then `make logs NODES={node}`.",
        },
    }


def app_series(name: str, node: str, label: str, values: str) -> dict[str, str]:
    """One recorded series of an app node's own metrics (job app)."""
    return {"series": f'{name}{{job="app", node="{node}", {label}}}', "values": values}


def vip_series(node: str, values: str) -> dict[str, str]:
    """Whether a front holds the floating address: its node exporter's address-info series."""
    labels = f'job="node", node="{node}", device="eth0", address="{VIP}", netmask="32", scope="global"'
    return {"series": f"node_network_address_info{{{labels}}}", "values": values}


# One test group per window: the down alerts (for: 1m, read every 15 s), then the full ones (5m).
TESTS: list[dict[str, Any]] = [
    {
        "interval": "15s",
        "input_series": [
            {"series": 'up{job="node", node="app1"}', "values": "1 1 0 0 0 0 0 0 0 0"},
            {"series": 'up{job="node", node="front2"}', "values": "1 0 0 0 1 1 1 1 1 1"},  # 45 s down: no alert
            {"series": 'up{job="nginx", node="front1"}', "values": "1x9"},
            {"series": 'nginx_up{job="nginx", node="front1"}', "values": "1 1 0 0 0 0 0 0 0 0"},
            {
                "series": f'node_systemd_unit_state{{job="node", node="app2", name="{APP}.service", state="active"}}',
                "values": "1 0 0 0 0 0 0 0 0 0",
            },
            {  # down from 15 s to 90 s, back at 105 s: cleared at 2 min
                "series": f'node_systemd_unit_state{{job="node", node="app1", name="{APP}.service", state="active"}}',
                "values": "1 0 0 0 0 0 0 1 1 1",
            },
            {  # another unit of the node exporter's list is not the app
                "series": 'node_systemd_unit_state{job="node", node="app2", name="ssh.service", state="active"}',
                "values": "0x9",
            },
            # The blackbox probes: the site through the floating address fails from 15 s on, through
            # front1 it answers; front2's redirect fails throughout.
            {"series": f'probe_success{{job="site", node="vip", instance="{VIP_URL}"}}', "values": "1 0x8"},
            {"series": 'probe_success{job="site", node="front1", instance="https://10.0.0.1/"}', "values": "1x9"},
            {"series": f'probe_success{{job="redirect", node="front2", instance="{FRONT2_HTTP}"}}', "values": "0x9"},
        ],
        "alert_rule_test": [
            {"eval_time": "45s", "alertname": "NodeDown", "exp_alerts": []},  # pending, not firing yet
            {"eval_time": "2m", "alertname": "NodeDown", "exp_alerts": [node_down("app1")]},
            {
                "eval_time": "2m",
                "alertname": "FrontNginxDown",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "critical", "job": "nginx", "node": "front1"},
                        "exp_annotations": {
                            "summary": "Nginx on the front front1 does not answer its status page",
                            "description": "Run `make status`, then `make logs NODES=front1 NGINX=true`.",
                        },
                    }
                ],
            },
            {
                "eval_time": "1m30s",
                "alertname": "AppServiceDown",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "critical",
                            "job": "node",
                            "node": node,
                            "name": f"{APP}.service",
                            "state": "active",
                        },
                        "exp_annotations": {
                            "summary": f"The app's service {APP}.service is not active on {node}",
                            "description": f"Run `make status`, then `make logs NODES={node}`.",
                        },
                    }
                    for node in ("app1", "app2")
                ],
            },
            {
                "eval_time": "2m",
                "alertname": "AppServiceDown",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "critical",
                            "job": "node",
                            "node": "app2",
                            "name": f"{APP}.service",
                            "state": "active",
                        },
                        "exp_annotations": {
                            "summary": f"The app's service {APP}.service is not active on app2",
                            "description": "Run `make status`, then `make logs NODES=app2`.",
                        },
                    }
                ],
            },
            {"eval_time": "1m", "alertname": "SiteDown", "exp_alerts": []},  # pending
            {
                "eval_time": "2m",
                "alertname": "SiteDown",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "critical", "job": "site", "node": "vip", "instance": VIP_URL},
                        "exp_annotations": {
                            "summary": f"The site does not answer over HTTPS through vip ({VIP_URL})",
                            "description": "Run `make status`; the probe's reason: `curl 'http://127.0.0.1:9115/probe"
                            f"?module=site&target={VIP_URL}&debug=true'` on the monitor node.",
                        },
                    }
                ],
            },
            {
                "eval_time": "2m",
                "alertname": "RedirectBroken",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "warning",
                            "job": "redirect",
                            "node": "front2",
                            "instance": FRONT2_HTTP,
                        },
                        "exp_annotations": {
                            "summary": "http:// through front2 does not send users on to https://",
                            "description": "Run `make status`, then `make logs NGINX=true` (the fronts' access lines).",
                        },
                    }
                ],
            },
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # 10 days left at the start, then a minute fewer each minute; front2's has 30.
            {
                "series": 'probe_ssl_earliest_cert_expiry{job="site", node="front1", instance="https://10.0.0.1/"}',
                "values": "864000x12",
            },
            {
                "series": 'probe_ssl_earliest_cert_expiry{job="site", node="front2", instance="https://10.0.0.2/"}',
                "values": "2592000x12",
            },
            {"series": 'node_memory_MemTotal_bytes{job="node", node="app1"}', "values": "100x10"},
            {"series": 'node_memory_MemAvailable_bytes{job="node", node="app1"}', "values": "5x10"},
            {"series": 'node_memory_MemTotal_bytes{job="node", node="app2"}', "values": "100x10"},
            {"series": 'node_memory_MemAvailable_bytes{job="node", node="app2"}', "values": "20x10"},
            {
                "series": 'node_filesystem_size_bytes{job="node", node="front1", fstype="ext4", mountpoint="/"}',
                "values": "100x10",
            },
            {
                "series": 'node_filesystem_avail_bytes{job="node", node="front1", fstype="ext4", mountpoint="/"}',
                "values": "4x10",
            },
            {  # a container's overlay is the host's disk: left alone
                "series": 'node_filesystem_size_bytes{job="node", node="front2", fstype="overlay", mountpoint="/"}',
                "values": "100x10",
            },
            {
                "series": 'node_filesystem_avail_bytes{job="node", node="front2", fstype="overlay", mountpoint="/"}',
                "values": "1x10",
            },
        ],
        "alert_rule_test": [
            {"eval_time": "9m", "alertname": "CertificateExpiresSoon", "exp_alerts": []},  # pending
            {
                "eval_time": "11m",
                "alertname": "CertificateExpiresSoon",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "warning",
                            "job": "site",
                            "node": "front1",
                            "instance": "https://10.0.0.1/",
                        },
                        "exp_annotations": {
                            # (864000 - 660) / 86400 days, as Prometheus's humanize writes it
                            "summary": "The certificate served through front1 ends in 9.992 days",
                            "description": "Run `ansible-playbook playbooks/renew.yml` (or `site.yml`),"
                            " then `make status`.",
                        },
                    }
                ],
            },
            {"eval_time": "4m", "alertname": "MemoryNearlyFull", "exp_alerts": []},
            {
                "eval_time": "6m",
                "alertname": "MemoryNearlyFull",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning", "job": "node", "node": "app1"},
                        "exp_annotations": {
                            "summary": "app1 uses 95% of its memory",
                            "description": "Run `make status` (the app's memory limit) and `make logs NODES=app1`.",
                        },
                    }
                ],
            },
            {
                "eval_time": "6m",
                "alertname": "DiskNearlyFull",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "warning",
                            "job": "node",
                            "node": "front1",
                            "fstype": "ext4",
                            "mountpoint": "/",
                        },
                        "exp_annotations": {
                            "summary": "/ on front1 is 96% full",
                            "description": "Free space on front1; `make logs NODES=front1` shows what writes.",
                        },
                    }
                ],
            },
        ],
    },
    {
        # The app's metrics, read every minute: app1 answers 10 requests a second, 1 in 10 a 500 and
        # every one in 2 to 5 s; app2 answers 10 a second, all 200 within 5 ms, and refuses 1
        # sign-in from the 3rd minute on.
        "interval": "1m",
        "input_series": [
            app_series("http_requests_total", "app1", 'status="200"', "0+540x20"),
            app_series("http_requests_total", "app1", 'status="500"', "0+60x20"),
            app_series("http_requests_total", "app2", 'status="200"', "0+600x20"),
            app_series("http_request_duration_seconds_bucket", "app1", 'le="2.5"', "0x20"),
            app_series("http_request_duration_seconds_bucket", "app1", 'le="5.0"', "0+600x20"),
            app_series("http_request_duration_seconds_bucket", "app1", 'le="+Inf"', "0+600x20"),
            app_series("http_request_duration_seconds_bucket", "app2", 'le="0.005"', "0+600x20"),
            app_series("http_request_duration_seconds_bucket", "app2", 'le="+Inf"', "0+600x20"),
            app_series("loginapp_sign_ins_total", "app2", 'result="busy"', "0 0 0 1x8"),
            app_series("loginapp_sign_ins_total", "app1", 'result="busy"', "0x20"),
        ],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "AppErrorsHigh", "exp_alerts": []},  # pending: for 5m
            {
                "eval_time": "12m",
                "alertname": "AppErrorsHigh",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "critical", "node": "app1"},
                        "exp_annotations": {
                            "summary": "10% of the answers of app1 are server errors (5xx)",
                            "description": "Run `make logs NODES=app1` (the app's tracebacks), then `make status`.",
                        },
                    }
                ],
            },
            {"eval_time": "8m", "alertname": "AppSlow", "exp_alerts": []},  # pending: for 10m
            {
                "eval_time": "16m",
                "alertname": "AppSlow",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning", "node": "app1"},
                        "exp_annotations": {
                            # the 99th percentile inside the 2.5-5 s bucket: 2.5 + 2.5 * 0.99
                            "summary": "The app on app1 takes 4.975s for 1 request in 100",
                            "description": "Run `make status` (its CPU quota and memory) and `make logs NODES=app1`.",
                        },
                    }
                ],
            },
            {
                "eval_time": "5m",
                "alertname": "SignInsRefusedBusy",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning", "node": "app2"},
                        "exp_annotations": {
                            "summary": "app2 answered 1 sign-ins with 503 in 5 minutes: every password check"
                            " slot was taken",
                            "description": "The memory bound of sign-ins (app_login_concurrency, app_memory_max) is"
                            " reached; see `make status` and `make logs NODES=app2`.",
                        },
                    }
                ],
            },
            {"eval_time": "12m", "alertname": "SignInsRefusedBusy", "exp_alerts": []},  # none in the last 5 minutes
        ],
    },
    {
        # The floating address moves between the fronts every 2 minutes from the 2nd on.
        "interval": "1m",
        "input_series": [
            vip_series("front1", "1 1 stale _ 1 1 stale _ 1 1 1 1 1 1 1 1"),
            vip_series("front2", "_ _ 1 1 stale _ 1 1 stale _ _ _ _ _ _ _"),
            {"series": 'up{job="nginx", node="front1"}', "values": "1x15"},
            {"series": 'up{job="nginx", node="front2"}', "values": "1x15"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "FloatingAddressMoving", "exp_alerts": []},  # 2 moves
            {
                "eval_time": "7m",
                "alertname": "FloatingAddressMoving",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning"},
                        "exp_annotations": {
                            "summary": f"The floating address {VIP} moved 3 times in 30 minutes",
                            "description": "A front's Nginx or keepalived goes down and up again; run `make status`"
                            " and `make logs NGINX=true`.",
                        },
                    }
                ],
            },
            {"eval_time": "7m", "alertname": "FloatingAddressHeldTwice", "exp_alerts": []},
            {"eval_time": "7m", "alertname": "FloatingAddressHeldNowhere", "exp_alerts": []},
        ],
    },
    {
        # front2 takes the address while front1 keeps it, from the 3rd minute to the 6th.
        "interval": "1m",
        "input_series": [
            vip_series("front1", "1x10"),
            vip_series("front2", "_ _ _ 1 1 1 stale _ _ _"),
            {"series": 'up{job="nginx", node="front1"}', "values": "1x10"},
            {"series": 'up{job="nginx", node="front2"}', "values": "1x10"},
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "FloatingAddressHeldTwice", "exp_alerts": []},  # pending
            {
                "eval_time": "5m",
                "alertname": "FloatingAddressHeldTwice",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "critical"},
                        "exp_annotations": {
                            "summary": f"2 fronts hold the floating address {VIP} at once",
                            "description": "The fronts do not hear each other's VRRP adverts; run `make status` and"
                            " check the network between them.",
                        },
                    }
                ],
            },
            {"eval_time": "8m", "alertname": "FloatingAddressHeldTwice", "exp_alerts": []},
            {"eval_time": "8m", "alertname": "FloatingAddressMoving", "exp_alerts": []},
        ],
    },
    {
        # front1 lets the address go at the 2nd minute and no front takes it.
        "interval": "1m",
        "input_series": [vip_series("front1", "1 1 stale _ _ _ _")],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "FloatingAddressHeldNowhere", "exp_alerts": []},  # pending
            {
                "eval_time": "4m",
                "alertname": "FloatingAddressHeldNowhere",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "critical", "job": "node", "address": VIP},
                        "exp_annotations": {
                            "summary": f"No front holds the floating address {VIP}",
                            "description": "Run `make status` (keepalived on each front), then `make logs NGINX=true`.",
                        },
                    }
                ],
            },
        ],
    },
    {
        # A run took the deploy lock at the start and never let it go (role lock's textfile).
        "interval": "1m",
        "input_series": [
            {
                "series": "flask_stack_deploy_lock_since_seconds"
                '{job="node", node="front1", action="deploy", user="alice"}',
                "values": "0x40",
            }
        ],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "DeployLockHeldTooLong", "exp_alerts": []},
            {
                "eval_time": "33m",
                "alertname": "DeployLockHeldTooLong",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "warning",
                            "job": "node",
                            "node": "front1",
                            "action": "deploy",
                            "user": "alice",
                        },
                        "exp_annotations": {
                            "summary": "The deploy lock on front1 has been held for 33m 0s (deploy by alice)",
                            "description": "A run that died leaves its lock behind: `make status` names its run;"
                            " `ansible-playbook playbooks/unlock.yml` removes a dead run's lock.",
                        },
                    }
                ],
            },
        ],
    },
]


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    (directory / "alerts.yml").write_text(render())
    (directory / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": ["alerts.yml"], "evaluation_interval": "15s", "tests": TESTS}, sort_keys=False)
    )
    return directory


def test_the_rendered_rules_pass_promtool_check(rules_dir: Path) -> None:
    result = promtool("check", "rules", "alerts.yml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 15 rules found" in result.stdout + result.stderr


def test_each_alert_fires_after_its_window_naming_the_node_and_clears(rules_dir: Path) -> None:
    result = promtool("test", "rules", "tests.yml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_floating_address_its_rules_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "alerts.yml").write_text(render(__monitor_vip=""))
    result = promtool("check", "rules", "alerts.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout + result.stderr
    assert "FloatingAddress" not in (tmp_path / "alerts.yml").read_text()


def test_a_rule_that_fires_at_once_would_fail_the_tests(tmp_path: Path, rules_dir: Path) -> None:
    """The unit tests can fail: with no window (for: 0s) the 45 s check sees NodeDown firing."""
    (tmp_path / "alerts.yml").write_text(render(monitor_alert_for="0s"))
    (tmp_path / "tests.yml").write_text((rules_dir / "tests.yml").read_text())
    result = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "NodeDown" in result.stdout + result.stderr
