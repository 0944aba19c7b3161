"""What a user of role tls in mode acme sees: both fronts serve the same certificate from the ACME CA (pebble),
ordered through whichever front the site's name resolves to, renewed under load without a failed request."""

from __future__ import annotations

import math
import os
import re
import ssl
import time
from pathlib import Path

import pytest
import testinfra
from load import Load, Outcome, Request
from scenario_helpers import run_playbook

from conftest import ACME_DIR, FRONTS, LISTENER_CA, PROJECT, SCENARIO, SITE, Answer, get, peer_certificate, resolve_site

testinfra_hosts = ["ansible://fronts"]

WEBROOT = "/var/www/acme/.well-known/acme-challenge"
ACCESS_LOG = "/var/log/nginx/access.log"
PEBBLE_VA = "LetsEncrypt-Pebble-VA"
# The load during the renewal: a few threads, a bounded count and time, every answer checked.
LOAD_THREADS = 4
LOAD_PAUSE = 0.2  # seconds between two requests of a thread: about 15 requests a second in all
LOAD_MAX_REQUESTS = 8000
LOAD_MAX_SECONDS = 600
LOAD_TAIL = 25  # requests per client after the renewal ended, to see the new certificate


def served(addresses: dict[str, str], root: Path) -> dict[str, Answer]:
    return {front: get(addresses[front], "/healthz", root) for front in FRONTS}


def challenge_fetches(host) -> int:
    """How many HTTP-01 fetches by pebble's validator this front answered with 200."""
    out = host.check_output(f"grep -F {PEBBLE_VA} {ACCESS_LOG} | grep -c '\"status\":200' || true")
    return int(out or 0)


def test_both_fronts_serve_the_same_certificate_from_pebble(addresses, pebble_root) -> None:
    answers = served(addresses, pebble_root)
    for front, answer in answers.items():
        assert answer.status == 200 and answer.body.startswith("stub "), (front, answer)
    assert answers[FRONTS[0]].fingerprint == answers[FRONTS[1]].fingerprint, answers


def test_a_client_without_pebbles_root_does_not_trust_the_site(addresses) -> None:
    # The listener CA is a real CA of the scenario, but it did not issue the site's certificate.
    with pytest.raises(ssl.SSLCertVerificationError):
        get(addresses[FRONTS[0]], "/healthz", LISTENER_CA)


def test_the_certificate_names_the_site_and_comes_from_pebbles_intermediate(addresses, pebble_root) -> None:
    cert = peer_certificate(addresses[FRONTS[1]], pebble_root)
    issuer = dict(item[0] for item in cert["issuer"])
    assert issuer["commonName"].startswith("Pebble Intermediate CA"), cert["issuer"]
    assert ("DNS", SITE) in cert["subjectAltName"], cert["subjectAltName"]


def test_the_controller_keeps_the_keys_for_its_user_only() -> None:
    assert ACME_DIR.stat().st_mode & 0o777 == 0o700
    for key in ("account.key", "site.key"):
        assert (ACME_DIR / key).stat().st_mode & 0o777 == 0o600, key


def test_no_challenge_answer_is_left_on_a_front(host) -> None:
    assert host.file(WEBROOT).is_directory
    assert host.check_output(f"find {WEBROOT} -type f | wc -l") == "0"


def test_the_front_key_is_root_only(host) -> None:
    key = host.file("/etc/ssl/flask-stack/site.key")
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)


@pytest.fixture(scope="module")
def renewal(addresses, pebble_root, request):
    """Point pebble's DNS at the second front, lower the threshold below the certificate's lifetime and run
    playbooks/renew.yml (what an operator's daily cron runs; a converge runs the same entry point of role tls)
    while clients GET /healthz through both fronts; the DNS points at the first front again afterwards."""
    hosts = {front: testinfra.get_host(f"ansible://{front}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
             for front in FRONTS}  # fmt: skip
    before = served(addresses, pebble_root)
    fetches_before = {front: challenge_fetches(hosts[front]) for front in FRONTS}
    not_after = ssl.cert_time_to_seconds(peer_certificate(addresses[FRONTS[0]], pebble_root)["notAfter"])
    renew_days = math.ceil((not_after - time.time()) / 86400) + 1

    def user(index: int) -> Request:
        count = 0

        def request() -> Outcome:
            nonlocal count
            front = FRONTS[(index + count) % len(FRONTS)]
            count += 1
            answer = get(addresses[front], "/healthz", pebble_root)
            ok = answer.status == 200 and answer.body.startswith("stub ")
            return Outcome(ok, f"{front} {answer.status}", (front, answer.serial))

        return request

    started = time.monotonic()
    resolve_site(addresses, FRONTS[1])
    try:
        load = Load(user, clients=LOAD_THREADS, max_requests=LOAD_MAX_REQUESTS, max_seconds=LOAD_MAX_SECONDS,
                    pause=LOAD_PAUSE)  # fmt: skip
        with load:
            result = run_playbook(PROJECT / "playbooks" / "renew.yml", f"tls_acme_renew_days={renew_days}")
            load.wait_for(LOAD_TAIL * LOAD_THREADS, since=time.monotonic(), timeout=60)
    finally:
        resolve_site(addresses, FRONTS[0])
    after = served(addresses, pebble_root)
    fetches_after = {front: challenge_fetches(hosts[front]) for front in FRONTS}
    return {
        "result": result,
        "before": before,
        "after": after,
        "load": load,
        "seconds": time.monotonic() - started,
        "fetches": {front: fetches_after[front] - fetches_before[front] for front in FRONTS},
        "renew_days": renew_days,
    }


def test_renewal_through_the_other_front_installs_a_new_certificate_on_both(renewal) -> None:
    result = renewal["result"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Ordering a certificate" in result.stdout
    before, after = renewal["before"], renewal["after"]
    assert after[FRONTS[0]].fingerprint == after[FRONTS[1]].fingerprint, after
    assert {answer.serial for answer in after.values()}.isdisjoint({answer.serial for answer in before.values()})


def test_pebble_validated_the_challenge_on_the_front_its_dns_named(renewal) -> None:
    assert renewal["fetches"][FRONTS[1]] >= 1, renewal["fetches"]
    assert renewal["fetches"][FRONTS[0]] == 0, renewal["fetches"]


def test_no_request_failed_while_the_fronts_reloaded(renewal) -> None:
    load = renewal["load"]
    old = {answer.serial for answer in renewal["before"].values()}
    new = {answer.serial for answer in renewal["after"].values()}
    seen = {serial for _, serial in load.values()}
    print(f"load: {load} in {renewal['seconds']:.0f} s, {len(seen)} serials")
    assert load.sent >= 100, load.sent
    assert not load.failed(), load.failed()[:10]
    assert old <= seen and new <= seen, (old, new, seen)
    for front in FRONTS:
        assert {serial for f, serial in load.values() if f == front} <= old | new


def test_a_converge_after_the_renewal_orders_nothing_and_changes_nothing(renewal, run_converge) -> None:
    result = run_converge()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Ordering a certificate" not in result.stdout
    changed = re.findall(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE)
    assert changed and all(count == "0" for _, count in changed), changed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["tls_acme_terms_agreed=false"], "tls_acme_terms_agreed must be true"),
        (["tls_acme_renew_days=0"], "tls_acme_renew_days must be between 1 and 3650"),
        (["tls_acme_directory=http://acme.example/dir"], "tls_acme_directory must be the https:// URL"),
        (["tls_acme_ca_file=/nonexistent/ca.pem"], "tls_acme_ca_file must be a CA file on the controller"),
    ],
)
def test_a_wrong_acme_input_is_refused_with_its_name(extra, message) -> None:
    result = run_playbook(SCENARIO / "validate.yml", *extra)
    assert result.returncode != 0
    assert message in " ".join(result.stdout.split()), result.stdout[-3000:]


def test_playbook_renew_orders_nothing_when_nothing_is_due(renewal) -> None:
    result = run_playbook(PROJECT / "playbooks" / "renew.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Ordering a certificate" not in result.stdout
    assert re.search(r"renew done: the site's certificate on acme-front1 has \d+ days left", result.stdout)
    changed = re.findall(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE)
    assert changed and all(count == "0" for _, count in changed), changed
