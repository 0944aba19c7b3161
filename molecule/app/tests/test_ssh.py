"""What role ssh gives a node: sshd -T shows the hardened settings, a key logs in over real
SSH, a password does not, and a broken setting or a bad input changes nothing."""

from __future__ import annotations

import json
import re
import shlex

import pytest

testinfra_hosts = ["ansible://all"]

DROPIN = "/etc/ssh/sshd_config.d/00-flask-stack-hardening.conf"
WEAK = re.compile(r"sha1|cbc|md5|arcfour|3des|diffie-hellman-group1-|diffie-hellman-group14-sha1|umac-64|ssh-dss")


def effective(host) -> dict[str, str]:
    """sshd -T: the settings sshd uses, keyword (lowercase) -> value (the first of repeated ones)."""
    settings: dict[str, str] = {}
    for line in host.check_output("sshd -T").splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key, value)
    return settings


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitemptypasswords", "no"),
        ("pubkeyauthentication", "yes"),
        ("permitrootlogin", "no"),
        ("maxauthtries", "3"),
        ("logingracetime", "30"),
        ("x11forwarding", "no"),
        ("allowtcpforwarding", "no"),
        ("allowagentforwarding", "no"),
        ("allowstreamlocalforwarding", "no"),
        ("permittunnel", "no"),
        ("clientaliveinterval", "300"),
        ("clientalivecountmax", "3"),
        ("loglevel", "VERBOSE"),
    ],
)
def test_sshd_uses_the_hardened_setting(host, keyword: str, value: str) -> None:
    assert effective(host)[keyword] == value


@pytest.mark.parametrize("keyword", ["kexalgorithms", "ciphers", "macs", "hostkeyalgorithms"])
def test_sshd_offers_no_weak_algorithm(host, keyword: str) -> None:
    algorithms = effective(host)[keyword].split(",")
    assert algorithms
    assert [name for name in algorithms if WEAK.search(name)] == []
    assert "ssh-rsa" not in algorithms


def test_the_drop_in_is_read_first(host) -> None:
    # sshd keeps the first value it reads: the role's drop-in sorts before the image's 10-node.conf.
    assert host.check_output("ls /etc/ssh/sshd_config.d/*.conf").split()[0] == DROPIN
    assert host.file("/etc/ssh/sshd_config").contains("^Include /etc/ssh/sshd_config.d/\\*.conf")


def test_no_rollback_timer_is_left_armed(host) -> None:
    assert host.run("systemctl is-active flask-stack-ssh-rollback.timer").stdout.strip() != "active"


def test_a_key_logs_in_over_real_ssh(ssh) -> None:
    result = ssh(command="id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ops"


def test_a_password_login_is_refused(ssh) -> None:
    methods = "PreferredAuthentications=password,keyboard-interactive"
    result = ssh("-o", methods, "-o", "PubkeyAuthentication=no", key=False)
    assert result.returncode != 0
    # The server offers public keys only.
    assert "Permission denied (publickey)" in result.stderr


def test_a_broken_sshd_setting_is_refused_and_changes_nothing(host, run_ssh_role, ssh) -> None:
    before = host.file(DROPIN).content
    # A value that passes the input checks but not sshd -t.
    result = run_ssh_role(json.dumps({"ssh_extra_settings": {"Ciphers": "no-such-cipher"}}))
    assert result.returncode != 0, result.stdout
    assert "sshd refuses the configuration role ssh would make on app-node" in result.stdout
    assert "Bad SSH2 cipher spec 'no-such-cipher'" in result.stdout.replace("''", "'")
    assert host.file(DROPIN).content == before
    assert "no-such-cipher" not in effective(host)["ciphers"]
    login = ssh()
    assert login.returncode == 0, login.stderr


def test_bad_inputs_fail_naming_each_variable_before_any_change(host, run_ssh_role) -> None:
    dropin = host.file(DROPIN)
    before = (dropin.content, dropin.mtime)
    bad = {"ssh_max_auth_tries": -1, "ssh_extra_settings": {"X11Forwarding": "yes\nPermitRootLogin yes"}}
    result = run_ssh_role(json.dumps(bad))
    assert result.returncode != 0, result.stdout
    assert "ssh_max_auth_tries must be between 1 and 6; got -1" in result.stdout
    assert "ssh_extra_settings.X11Forwarding must be one line of text" in result.stdout
    assert re.search(r"app-node\s*:\s*ok=\d+\s+changed=0\s", result.stdout), result.stdout
    dropin = host.file(DROPIN)
    assert (dropin.content, dropin.mtime) == before
    assert effective(host)["x11forwarding"] == "no"


def wait_until(host, condition: str, seconds: int) -> bool:
    """Whether the shell condition holds on the node within the given seconds."""
    script = shlex.quote(f"until {condition}; do sleep 0.2; done")
    return host.run(f"timeout {seconds} sh -c {script}").rc == 0


def test_the_dead_mans_switch_puts_the_previous_drop_in_back(host) -> None:
    """What a run that can no longer reach the node leaves to the node: the armed timer puts the
    previous drop-in back and reloads sshd, with the same restore script the role arms."""
    state = "/var/lib/flask-stack/ssh"
    original = host.file(DROPIN).content_string
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    host.check_output(f"cp -p {DROPIN} {state}/previous.conf")  # what the role keeps before a change
    host.check_output(f"sed -i '1i MaxAuthTries 2' {DROPIN}")  # the change the run could not confirm
    unit = "flask-stack-ssh-rollback-test"
    host.check_output(f"systemd-run --unit={unit} --on-active=1s --timer-property=AccuracySec=100ms {state}/restore")
    try:
        assert wait_until(host, f"! grep -q '^MaxAuthTries 2' {DROPIN}", 20), "the drop-in was not put back within 20 s"
        assert host.file(DROPIN).content_string == original
        logged = f"journalctl -q --since '{since}' -t flask-stack-ssh | grep -q 'put the previous sshd drop-in back'"
        assert wait_until(host, logged, 10), "the restore script did not finish (no journal line)"
        assert host.service("ssh").is_running
    finally:
        host.run(f"systemctl stop {unit}.timer; systemctl reset-failed {unit}.timer {unit}.service")
        host.run(f"cp -p {state}/previous.conf {DROPIN}")
