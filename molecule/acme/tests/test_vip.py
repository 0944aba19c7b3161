"""What a user of the floating address sees: one front holds it, HTTPS through it verifies with pebble's
root (the fronts serve the certificate pebble issued), and it moves to the other front within 3 s when
Nginx stops or an operator sets the standby flag, under a load that goes on through the move.

After test_acme.py (pytest runs the files in name order): these tests stop Nginx on a front, flip the
standby flag and take keepalived away for a while, and each puts it all back before it ends."""

from __future__ import annotations

import json
import ssl
import time

import pytest
from scenario_helpers import run_playbook

from conftest import FRONTS, LISTENER_CA, SCENARIO, STANDBY_FILE, holders, https_get, wait_for_holder

PREFERRED, OTHER = FRONTS
MOVE_LIMIT = 3.0  # seconds from the failure to the address on the other front
SETTLE = 30.0  # seconds a test waits for the preferred front to hold the address before it starts
LAST_OK = 40  # the last requests of a load, all of which must succeed
VIP_PLAYBOOK = SCENARIO / "vip.yml"  # role vip alone on the fronts
CONF = "/etc/keepalived/keepalived.conf"
CHECK_SCRIPT = "/usr/local/libexec/flask-stack-vip-check"


def test_the_address_is_on_exactly_one_front_the_preferred_one(fronts, vip) -> None:
    wait_for_holder(fronts, vip, PREFERRED, SETTLE)
    for _ in range(5):  # and it stays there: no second holder appears between adverts
        assert holders(fronts, vip) == [PREFERRED]
        time.sleep(0.5)


def test_https_through_the_address_verifies_with_pebbles_root(fronts, vip, tls_context) -> None:
    wait_for_holder(fronts, vip, PREFERRED, SETTLE)
    status, body = https_get(vip, tls_context)
    assert (status, body.split()[:2]) == (200, ["stub", "acme-app"])
    # Verified, not merely encrypted: another CA of the scenario (pebble's listener CA) does not trust it.
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(vip, ssl.create_default_context(cafile=str(LISTENER_CA)))


def test_each_front_accepts_vrrp_from_the_other_front_only(fronts) -> None:
    addresses = {name: front.check_output("hostname -I").split()[0] for name, front in fronts.items()}
    for name, front in fronts.items():
        ruleset = front.check_output("nft list table inet flask_stack_filter")
        rules = [line for line in ruleset.splitlines() if "vrrp" in line]
        other = addresses[OTHER if name == PREFERRED else PREFERRED]
        assert [rule.split()[2] for rule in rules] == [other], rules
        # To this front's own address only, and only with TTL 255: an advert from beyond the link is dropped.
        assert f"ip daddr {addresses[name]} " in rules[0] and "ip ttl 255 " in rules[0], rules


def test_keepalived_runs_with_the_checked_configuration(fronts, vip) -> None:
    for front in fronts.values():
        assert front.service("keepalived").is_running
        assert front.service("keepalived").is_enabled
        conf = front.file("/etc/keepalived/keepalived.conf").content_string
        assert f"{vip}/32 dev" in conf and "unicast_peer" in conf
        # TERM ignored as the role's check does: keepalived 2.2.7 ends its own config test with it (see the role).
        check = "trap '' TERM; keepalived --config-test --use-file={}"
        assert front.run(check.format("/etc/keepalived/keepalived.conf")).rc == 0
        front.check_output("sed 's/advert_int/advert_intx/' /etc/keepalived/keepalived.conf > /tmp/broken.conf")
        broken = front.run(check.format("/tmp/broken.conf"))
        assert broken.rc != 0 and "advert_intx" in broken.stderr + broken.stdout


def moved(load_run, start: float, moved_at: float) -> None:
    """The failures of a load: printed; each one began between the failure and shortly after the move."""
    failed = load_run.failed()
    print(
        f"{len(load_run.answers)} requests through the floating address, {len(failed)} failed during the move "
        f"({moved_at - start:.2f} s); failures: {sorted({answer.detail for answer in failed})}"
    )
    late = [answer for answer in failed if answer.start > moved_at + 1.0 or answer.end < start - 0.5]
    assert not late, f"failures outside the move window: {late[:5]}"
    # A client retries 0.2 s after a failure: at most one failure per client per 0.2 s of the window.
    assert len(failed) <= load_run.clients * ((moved_at - start + 1.0) / 0.2 + 1)
    # The last by when they started: a request that began in the window and timed out ends after later ones.
    tail = sorted(load_run.answers, key=lambda answer: answer.start)[-LAST_OK:]
    assert len(tail) == LAST_OK and all(answer.ok for answer in tail), [a.detail for a in tail if not a.ok]


def test_the_address_moves_within_3_s_when_nginx_stops_and_comes_back_when_it_starts(fronts, vip, load) -> None:
    wait_for_holder(fronts, vip, PREFERRED, SETTLE)
    holder = fronts[PREFERRED]
    try:
        with load() as run:
            run.wait_for(40, since=0, timeout=20)
            stopped = time.monotonic()
            holder.check_output("systemctl stop nginx.service")
            took = wait_for_holder(fronts, vip, OTHER, MOVE_LIMIT + 2)
            moved_at = stopped + took
            print(f"Nginx stopped on {PREFERRED}: {vip} on {OTHER} after {took:.2f} s")
            run.wait_for(LAST_OK * 2, since=moved_at + 1.0, timeout=20)
        assert took <= MOVE_LIMIT
        moved(run, stopped, moved_at)

        # Nginx back: with vip_preempt (the default) the preferred front takes the address back once its
        # check passed vip_check_rise (2) times; the load goes on through this move too.
        with load() as run:
            run.wait_for(40, since=0, timeout=20)
            started = time.monotonic()
            holder.check_output("systemctl start nginx.service")
            took = wait_for_holder(fronts, vip, PREFERRED, 10)
            print(f"Nginx started on {PREFERRED}: {vip} back on {PREFERRED} after {took:.2f} s (preemption)")
            run.wait_for(LAST_OK * 2, since=started + took + 1.0, timeout=20)
        moved(run, started + took - 1.0, started + took)
    finally:
        holder.run("systemctl start nginx.service")


def test_the_standby_flag_moves_the_address_away_and_removing_it_brings_it_back(fronts, vip, tls_context) -> None:
    wait_for_holder(fronts, vip, PREFERRED, SETTLE)
    holder = fronts[PREFERRED]
    try:
        holder.check_output(f"touch {STANDBY_FILE}")
        took = wait_for_holder(fronts, vip, OTHER, MOVE_LIMIT + 2)
        print(f"{STANDBY_FILE} on {PREFERRED}: {vip} on {OTHER} after {took:.2f} s")
        assert took <= MOVE_LIMIT
        assert https_get(vip, tls_context)[0] == 200
        time.sleep(3)  # the flag holds: the address stays away while the file is there
        assert holders(fronts, vip) == [OTHER]

        holder.check_output(f"rm {STANDBY_FILE}")
        took = wait_for_holder(fronts, vip, PREFERRED, 10)
        print(f"{STANDBY_FILE} removed: {vip} back on {PREFERRED} after {took:.2f} s")
        assert https_get(vip, tls_context)[0] == 200
    finally:
        holder.run(f"rm -f {STANDBY_FILE}")


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        ({"vip_address": "10.0.0.300"}, ["vip_address"]),
        (
            {
                "vip_router_id": 0,
                "vip_priority": 255,
                "vip_interface": "eth0; x",
                "vip_check_url": "http://203.0.113.9/nginx_status",
                "vip_standby_file": "/etc/../standby",
                "vip_check_rise": 0,
            },
            ["vip_router_id", "vip_priority", "vip_interface", "vip_check_url", "vip_standby_file", "vip_check_rise"],
        ),
    ],
)
def test_wrong_inputs_are_refused_each_named_before_anything_changes(fronts, vip, wrong, named) -> None:
    before = {name: front.check_output(f"sha256sum {CONF} {CHECK_SCRIPT}") for name, front in fronts.items()}
    result = run_playbook(VIP_PLAYBOOK, json.dumps(wrong))
    assert result.returncode != 0
    for name in named:
        assert f"{name} must be" in result.stdout, f"no message names {name}:\n{result.stdout[-3000:]}"
    assert {name: front.check_output(f"sha256sum {CONF} {CHECK_SCRIPT}") for name, front in fronts.items()} == before
    assert holders(fronts, vip) == [PREFERRED]


def test_an_empty_vip_address_releases_the_address_and_setting_it_brings_it_back(fronts, vip, tls_context) -> None:
    result = run_playbook(VIP_PLAYBOOK, json.dumps({"vip_address": ""}))
    assert result.returncode == 0, result.stdout[-3000:]
    for front in fronts.values():
        assert not front.service("keepalived").is_running and not front.service("keepalived").is_enabled
        assert not front.file(CONF).exists and not front.file(CHECK_SCRIPT).exists
        assert front.package("keepalived").is_installed  # the package stays
    assert holders(fronts, vip) == []
    with pytest.raises(OSError):
        https_get(vip, tls_context)

    result = run_playbook(VIP_PLAYBOOK)
    assert result.returncode == 0, result.stdout[-3000:]
    wait_for_holder(fronts, vip, PREFERRED, SETTLE)
    assert https_get(vip, tls_context)[0] == 200
