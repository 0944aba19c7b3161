"""What a user of roles `tls` and `nginx` sees on a front: HTTPS they can verify, a safe site, a checked config."""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from scenario_helpers import cgroup_limits, run_playbook

from conftest import INDEX, PROJECT, STATIC_ROOT

testinfra_hosts = ["ansible://fronts"]

SITE = "flask-stack.test"
CA_ON_NODE = "/usr/local/share/ca-certificates/flask-stack-ca.crt"
CERT = "/etc/ssl/flask-stack/site.crt"
KEY = "/etc/ssl/flask-stack/site.key"
PEER_CERT = "/etc/ssl/flask-stack/peer.crt"  # role tls's tls_peer_cert_path: the front's for mutual TLS
PEER_KEY = "/etc/ssl/flask-stack/peer.key"
UPSTREAM_CONF = "/etc/nginx/conf.d/flask-stack-upstream.conf"
SITE_CONF = "/etc/nginx/sites-enabled/flask-stack.conf"
STUB_LOG = "/var/log/upstream-stub/requests.log"
STATIC_SOURCE = PROJECT / "app/src/loginapp/static/style.css"
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
    "permissions-policy": "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), "
    "fullscreen=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), "
    "xr-spatial-tracking=()",
    "cross-origin-opener-policy": "same-origin",
}


@dataclass
class Response:
    rc: int
    status: int
    headers: dict[str, str]
    body: str
    error: str


def curl(host, url: str, *args: str, name: str = SITE) -> Response:
    """curl on the front, verifying with the project CA; `name` resolves to the front's loopback."""
    cmd = [
        "curl", "-sS", "-i", "--max-time", "5", "--cacert", CA_ON_NODE,
        "--resolve", f"{name}:443:127.0.0.1", "--resolve", f"{name}:80:127.0.0.1", *args, url,
    ]  # fmt: skip
    result = host.run(shlex.join(cmd))
    if result.rc != 0:
        return Response(result.rc, 0, {}, "", result.stderr)
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return Response(0, int(lines[0].split()[1]), headers, body, result.stderr)


def https(host, path: str = "/", *args: str) -> Response:
    return curl(host, f"https://{SITE}{path}", *args)


def s_client(host, *args: str) -> tuple[int, str]:
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:443", "-CAfile", CA_ON_NODE, "-verify_return_error", *args]
    result = host.run(shlex.join(cmd) + " </dev/null 2>&1")
    return result.rc, result.stdout


def served_fingerprint(host) -> str:
    return host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} </dev/null 2>/dev/null "
        "| openssl x509 -noout -fingerprint -sha256"
    )


def file_fingerprint(host) -> str:
    return host.check_output(f"openssl x509 -in {CERT} -noout -fingerprint -sha256")


def stub_log(app_node) -> str:
    return app_node.file(STUB_LOG).content_string


def assert_security_headers(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status, response.headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers.get("x-request-id", ""))


# --- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login?next=%2Fhome", "/static/style.css"])
def test_http_redirects_to_the_same_path_on_https(host, path: str) -> None:
    answer = curl(host, f"http://{SITE}{path}")
    assert answer.status == 301
    assert answer.headers["location"] == f"https://{SITE}{path}"


def test_acme_challenges_are_served_over_http_from_the_webroot(host) -> None:
    token = "/var/www/acme/.well-known/acme-challenge/molecule-token"
    host.run(f"echo proof > {token}")
    try:
        answer = curl(host, f"http://{SITE}/.well-known/acme-challenge/molecule-token")
        assert (answer.status, answer.body.strip()) == (200, "proof")
    finally:
        host.run(f"rm -f {token}")


# --- TLS ---------------------------------------------------------------------------------------


def test_https_verifies_with_the_project_ca_over_http2(host) -> None:
    result = host.run(
        f"curl -sS -o /dev/null -w '%{{http_code}} %{{http_version}} %{{ssl_verify_result}}' --cacert {CA_ON_NODE} "
        f"--resolve {SITE}:443:127.0.0.1 https://{SITE}/"
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["200", "2", "0"]


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_tls_1_2_and_1_3_are_accepted(host, version: str) -> None:
    rc, out = s_client(host, "-servername", SITE, version)
    assert rc == 0, out
    assert f"New, TLSv1.{version[-1]}, Cipher is " in out
    assert "Verify return code: 0 (ok)" in out


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused(host, version: str) -> None:
    # The client is made willing (security level 0) so that only the server can refuse.
    rc, out = s_client(host, "-servername", SITE, version, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert rc != 0
    assert "Cipher is (NONE)" in out or "no protocols available" in out or "alert" in out, out


def test_tls_1_2_offers_only_ecdhe_aead_ciphers(host) -> None:
    rc, out = s_client(host, "-servername", SITE, "-tls1_2", "-cipher", "AES128-SHA:AES256-SHA256:ECDHE-RSA-AES128-SHA")
    assert rc != 0, out
    rc, out = s_client(host, "-servername", SITE, "-tls1_2")
    assert re.search(r"Cipher is ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)", out), out


def test_the_certificate_names_the_site_and_lives_at_most_366_days(host) -> None:
    san = host.check_output(f"openssl x509 -in {CERT} -noout -ext subjectAltName")
    assert f"DNS:{SITE}" in san
    dates = dict(
        line.split("=", 1) for line in host.check_output(f"openssl x509 -in {CERT} -noout -dates").splitlines()
    )
    fmt = "%b %d %H:%M:%S %Y %Z"
    lifetime = datetime.strptime(dates["notAfter"], fmt) - datetime.strptime(dates["notBefore"], fmt)
    assert 0 < lifetime.days <= 366
    assert served_fingerprint(host) == file_fingerprint(host)


def test_the_key_is_root_only_and_the_chain_ends_with_the_ca(host) -> None:
    key = host.file(KEY)
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    chain = host.file(CERT).content_string
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert chain.strip().endswith(host.file(CA_ON_NODE).content_string.strip())


def test_the_ca_is_on_the_controller_where_tls_ca_dir_says(host) -> None:
    ca_dir = Path(host.ansible.get_variables()["tls_ca_dir"])
    ca_cert, ca_key = ca_dir / "ca.crt", ca_dir / "ca.key"
    assert ca_cert.is_file()
    assert stat.S_IMODE(ca_key.stat().st_mode) == 0o600
    assert ca_cert.read_text().strip() == host.file(CA_ON_NODE).content_string.strip()


@pytest.mark.parametrize("name", ["other.test", "nginx-front"])
def test_an_unknown_name_gets_no_tls_handshake_and_no_http_answer(host, name: str) -> None:
    rc, out = s_client(host, "-servername", name)
    assert rc != 0
    assert "unrecognized name" in out, out
    assert curl(host, f"https://{name}/", name=name).rc == 35
    # Plain HTTP with an unknown Host: the connection closes without an answer (444).
    assert curl(host, f"http://{name}/", name=name).rc == 52


def test_a_client_without_sni_gets_no_handshake(host) -> None:
    rc, _ = s_client(host, "-noservername")
    assert rc != 0


@pytest.mark.parametrize("path", ["/", "/index.html", "/index.nginx-debian.html", "/static/style.css"])
@pytest.mark.parametrize("unknown", ["evil.example", "nginx-front", "127.0.0.1"])
def test_an_unknown_host_after_a_handshake_with_the_site_name_gets_421_with_the_headers(
    host, app_node, unknown: str, path: str
) -> None:
    # TLS completes with the site's name as SNI (verified with the CA); the Host names no site.
    answer = https(host, path, "-H", f"Host: {unknown}")
    assert answer.status == 421, (answer.status, answer.body[:300])
    assert_security_headers(answer)
    assert "Welcome to nginx" not in answer.body
    assert answer.headers["x-request-id"] not in stub_log(app_node)


def test_the_request_line_cannot_name_another_site_than_the_host_header(host) -> None:
    # HTTP/1.1 absolute form: Nginx picks the server by the request line, not by Host.
    answer = curl(
        host, f"https://{SITE}/", "--http1.1", "--request-target", "https://evil.example/", "-H", f"Host: {SITE}"
    )
    assert answer.status == 421
    assert_security_headers(answer)


def test_only_the_site_is_enabled_and_no_server_falls_back_to_a_root(host) -> None:
    assert host.file("/etc/nginx/sites-enabled").listdir() == ["flask-stack.conf"]
    dump = host.check_output("nginx -T 2>/dev/null")
    assert "/var/www/html" not in dump
    assert "Welcome to nginx" not in curl(host, "http://127.0.0.1:8081/").body


# --- What the app node is told --------------------------------------------------------------------


def forwarded(host, url: str, *args: str) -> dict[str, str]:
    answer = curl(host, url, *args)
    assert answer.status == 200, (answer.status, answer.error)
    return json.loads(answer.body)


def test_the_app_gets_the_site_name_and_the_origin_the_browser_used(host) -> None:
    assert forwarded(host, f"https://{SITE}/echo-headers") == {
        "Host": SITE,
        "X-Forwarded-Host": SITE,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "127.0.0.1",
    }
    # Through a published port (the lab's 8443, Molecule's 18443): the browser's origin has
    # the port, and the app's CSRF check compares the Referer with that origin.
    published = forwarded(host, f"https://{SITE}:18443/echo-headers", "--connect-to", f"{SITE}:18443:127.0.0.1:443")
    assert (published["Host"], published["X-Forwarded-Host"]) == (SITE, f"{SITE}:18443")


def test_a_spoofed_host_header_never_reaches_the_app(host) -> None:
    # The request line names the site, the Host header another name: the app sees the site.
    spoofed = forwarded(
        host, f"https://{SITE}/", "--http1.1", "--request-target", f"https://{SITE}/echo-headers",
        "-H", "Host: evil.example:9443",
    )  # fmt: skip
    assert spoofed["Host"] == SITE
    assert spoofed["X-Forwarded-Host"] in (SITE, f"{SITE}:9443")


# --- Static analysis ---------------------------------------------------------------------------------


def test_gixy_finds_no_problem_in_the_rendered_configuration(host) -> None:
    dump = host.check_output("nginx -T 2>/dev/null")
    assert "# configuration file /etc/nginx/sites-enabled/flask-stack.conf:" in dump
    # The nested location of the static files' hashed names: it keeps every header of its parent but Cache-Control.
    assert 'location ~ "\\.[0-9a-f]{12}(\\.[A-Za-z0-9]+)?$"' in dump
    # Every severity, no test skipped, no waiver: gixy reads the `nginx -T` dump from stdin.
    gixy = Path(sys.executable).parent / "gixy"
    result = subprocess.run([str(gixy), "-"], input=dump, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "No issues found." in result.stdout, result.stdout + result.stderr


# --- Headers, static files, limits ----------------------------------------------------------------


def test_pages_carry_the_security_headers_and_no_version(host) -> None:
    answer = https(host, "/")
    assert answer.status == 200
    assert_security_headers(answer)
    assert answer.headers["server"] == "nginx"


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/static/nope.css", 404), ("/static/style.css", 200)])
def test_errors_and_static_files_carry_the_security_headers_too(host, path: str, status: int) -> None:
    answer = https(host, path)
    assert answer.status == status
    assert_security_headers(answer)


# Role nginx on its own, on a front that has received no release's static files.
ROLE_ALONE = """\
- name: Gather the app node's facts, for its address in the upstream as the converge renders it
  hosts: apps
  gather_facts: true
  tasks: []

- name: Converge role nginx on its own on the fronts
  hosts: fronts
  become: true
  roles:
    - role: nginx
"""


@pytest.fixture
def without_release(host, tmp_path):
    """The front as role nginx alone leaves it before any release (converge.yml sends one): the static root
    and the list of kept releases moved aside, role nginx run, and both put back afterwards."""
    host.check_output(f"mv {STATIC_ROOT} {STATIC_ROOT}.kept && mv {INDEX} {INDEX}.kept")
    try:
        playbook = tmp_path / "role-nginx-alone.yml"
        playbook.write_text(ROLE_ALONE)
        result = run_playbook(playbook)
        assert result.returncode == 0, result.stdout[-3000:]
        yield
    finally:
        host.check_output(f"rm -rf {STATIC_ROOT} && mv {STATIC_ROOT}.kept {STATIC_ROOT} && mv {INDEX}.kept {INDEX}")


def test_static_files_come_from_the_front_under_their_plain_names_with_short_cache_headers(
    host, app_node, without_release
) -> None:
    # Without a release (role nginx alone), the plain names come from nginx_static_source; they
    # follow the newest release, so browsers keep them 5 minutes, not a year (test_static_releases.py
    # checks the releases' hashed names and the plain names with a release).
    answer = https(host, "/static/style.css")
    assert answer.status == 200
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["content-type"] == "text/css"
    assert answer.body == STATIC_SOURCE.read_text()
    log = stub_log(app_node)
    assert answer.headers["x-request-id"] not in log
    assert "/static/" not in log


@pytest.mark.parametrize(
    "path", ["/static/.env", "/static/img/.draft.css", "/.env", "/.git/config", "/static/.git/config"]
)
def test_a_path_with_a_dotfile_segment_is_refused_by_the_front(host, app_node, path: str) -> None:
    # Files that exist on the front's disk: a dotfile left in the static root is still not served.
    root = "/var/www/flask-stack/static"  # role nginx's default nginx_static_root
    host.check_output(f"install -d {root}/img {root}/.git && for f in .env img/.draft.css .git/config; do "
                      f"echo secret > {root}/$f; done")  # fmt: skip
    try:
        answer = https(host, path)
        assert answer.status == 404, (path, answer.status, answer.body[:200])
        assert "secret" not in answer.body
        assert_security_headers(answer)
        assert path not in stub_log(app_node), "the app never saw it"
    finally:
        host.check_output(f"rm -rf {root}/.env {root}/img/.draft.css {root}/.git")


# A long query makes the stub's answer (it echoes the path) long enough for gzip_min_length.
PADDED = "?pad=" + "a" * 400


@pytest.mark.parametrize(
    ("path", "compressed"),
    [(f"/{PADDED}", False), (f"/home{PADDED}", False), (f"/healthz{PADDED}", True), ("/static/style.css", True)],
)
def test_pages_that_carry_secrets_are_never_compressed_and_the_rest_is(host, path: str, compressed: bool) -> None:
    """BREACH (CVE-2013-3587): the Sign In page and every app page carry the CSRF token or the user."""
    head = host.check_output(
        f"curl -sS -D - -o /dev/null -H 'Accept-Encoding: gzip' --cacert {CA_ON_NODE} "
        f"--resolve {SITE}:443:127.0.0.1 'https://{SITE}{path}'"
    )
    assert head.startswith("HTTP/2 200"), head
    assert ("content-encoding: gzip" in head.lower()) is compressed, head


def test_a_body_over_the_limit_gets_413_with_the_headers(host, app_node) -> None:
    ok = host.run(
        f"head -c 60000 /dev/zero | curl -sS -o /dev/null -w '%{{http_code}}' --cacert {CA_ON_NODE} "
        f"--resolve {SITE}:443:127.0.0.1 --data-binary @- https://{SITE}/upload-small"
    )
    assert ok.stdout == "200"
    big = host.run(
        f"head -c 100000 /dev/zero | curl -sS -i --cacert {CA_ON_NODE} "
        f"--resolve {SITE}:443:127.0.0.1 --data-binary @- https://{SITE}/upload-big"
    )
    head = big.stdout.replace("\r\n", "\n").split("\n\n", 1)[0].lower()
    assert head.startswith("http/2 413")
    for name, value in SECURITY_HEADERS.items():
        assert f"{name}: {value.lower()}" in head
    assert "/upload-big" not in stub_log(app_node)


# --- Proxying --------------------------------------------------------------------------------------


def test_requests_reach_the_app_node_with_their_request_id_over_mutual_tls(host, app_node) -> None:
    answer = https(host, "/hello?x=1")
    assert answer.status == 200
    assert answer.body.strip() == "stub nginx-app GET /hello?x=1"
    request_id = answer.headers["x-request-id"]
    # The stub (like Gunicorn with app_tls) names the client certificate it verified: the front's own.
    assert f"GET /hello?x=1 {request_id} nginx-front\n" in stub_log(app_node)


def test_the_app_node_answers_only_a_client_with_a_certificate_from_the_internal_ca(host) -> None:
    address = re.search(r"server ([0-9.]+):8000", host.file(UPSTREAM_CONF).content_string).group(1)
    name = "app.flask-stack.internal"  # role tls's tls_peer_service_name, Nginx's proxy_ssl_name
    base = (
        "curl -sS -o /dev/null -w '%{http_code}' --max-time 3 --cacert /etc/ssl/flask-stack/peer-ca.crt "
        f"--resolve {name}:8000:{address} https://{name}:8000/tls-check"
    )
    own = f"--cert {PEER_CERT} --key {PEER_KEY}"
    assert host.check_output(f"{base} {own}") == "200"
    # Without a certificate, or with one the internal CA did not sign (the site's), no answer.
    for client in ("", f"--cert {CERT} --key {KEY}"):
        refused = host.run(f"{base} {client}")
        assert refused.rc != 0 and refused.stdout != "200", (client, refused.stdout, refused.stderr)
    # Plain HTTP gets no answer either.
    assert host.run(f"curl -s --max-time 3 http://{address}:8000/").stdout == ""


def test_the_access_log_is_json_with_the_request_id_and_upstream(host) -> None:
    request_id = https(host, "/logged").headers["x-request-id"]
    lines = host.check_output(f"grep {request_id} /var/log/nginx/access.log").splitlines()
    entry = json.loads(lines[-1])
    assert (entry["method"], entry["path"], entry["protocol"]) == ("GET", "/logged", "HTTP/2.0")
    assert entry["status"] == 200
    assert entry["host"] == SITE
    assert entry["upstream_addr"].endswith(":8000")
    for key in ("time", "client", "request_time", "upstream_time", "user_agent", "tls"):
        assert key in entry


def test_the_upstream_lists_the_app_node_with_keepalive(host) -> None:
    conf = host.file(UPSTREAM_CONF).content_string
    assert re.search(r"^\s*least_conn;", conf, re.M)
    assert re.search(r"^\s*server [0-9.]+:8000 max_fails=3 fail_timeout=10s;\s+# nginx-app$", conf, re.M)
    assert re.search(r"^\s*keepalive 32;", conf, re.M)


def test_the_status_page_answers_on_loopback_only(host) -> None:
    assert "Active connections" in host.check_output("curl -sS --max-time 5 http://127.0.0.1:8081/nginx_status")
    assert host.socket("tcp://127.0.0.1:8081").is_listening
    assert not host.socket("tcp://0.0.0.0:8081").is_listening


def test_too_many_login_posts_get_429_but_pages_do_not(host) -> None:
    codes = host.check_output(
        f"for i in $(seq 20); do curl -sS -o /dev/null -w '%{{http_code}}\\n' --cacert {CA_ON_NODE} "
        f"--resolve {SITE}:443:127.0.0.1 -d user=demo https://{SITE}/; done"
    ).split()
    assert codes.count("200") >= 1
    assert codes.count("429") >= 10
    assert set(codes) <= {"200", "429"}
    assert_security_headers(https(host, "/", "-d", "user=demo"))
    gets = host.check_output(
        f"for i in $(seq 20); do curl -sS -o /dev/null -w '%{{http_code}}\\n' --cacert {CA_ON_NODE} "
        f"--resolve {SITE}:443:127.0.0.1 https://{SITE}/; done"
    ).split()
    assert set(gets) == {"200"}


# IPv6 clients count per /64. The containers have no IPv6 (disable_ipv6=1, no NET_ADMIN to
# change it), so no real IPv6 client can be tested here; the key map is checked as rendered,
# by nginx -t, and by evaluating it in a throwaway Nginx on the front with the address as input.
KEYS = {
    "203.0.113.7": "203.0.113.7",
    "2001:db8:1:2:3:4:5:6": "2001:db8:1:2",
    "2001:db8:1:2::5": "2001:db8:1:2",
    "2001:db8:1::5": "2001:db8:1:0",
    "2001:db8:1:0:5:6:7:8": "2001:db8:1:0",
    "2001:db8::1": "2001:db8:0:0",
    "2001:db8::1:2:3:4": "2001:db8:0:0",
    "2001::5:1:2:3:4": "2001:0:0:5",
    "2001::1": "2001:0:0:0",
    "::1": "::1",
    "::ffff:192.0.2.1": "::ffff:192.0.2.1",
}


def test_the_login_rate_counts_posts_per_ipv4_address_or_ipv6_64(host) -> None:
    conf = host.file(SITE_CONF).content_string
    post_only = r"^map \$request_method \$flask_stack_login_key \{\n\s+POST\s+\$flask_stack_login_client;"
    assert re.search(post_only, conf, re.M)
    assert re.search(r"^limit_req_zone \$flask_stack_login_key zone=flask_stack_login:10m rate=10r/m;", conf, re.M)
    assert host.run("nginx -t").rc == 0
    block = re.search(r"^map \$remote_addr \$flask_stack_login_client \{\n.*?^\}", conf, re.M | re.S)
    assert block, conf
    probe = block.group(0).replace("$remote_addr", "$arg_a")
    config = (
        "pid /tmp/keymap/nginx.pid; error_log /tmp/keymap/error.log; events {}\n"
        f"http {{ access_log off;\n{probe}\n"
        'server { listen 127.0.0.1:18099; location / { return 200 "$flask_stack_login_client"; } } }\n'
    )
    host.run("mkdir -p /tmp/keymap")
    host.run(f"cat > /tmp/keymap/nginx.conf <<'EOF'\n{config}EOF")
    started = host.run("nginx -c /tmp/keymap/nginx.conf")
    assert started.rc == 0, started.stderr
    try:
        got = {a: host.check_output(f"curl -sS 'http://127.0.0.1:18099/?a={a}'") for a in KEYS}
    finally:
        host.run("nginx -c /tmp/keymap/nginx.conf -s quit; rm -rf /tmp/keymap")
    assert got == KEYS


# --- systemd limits -----------------------------------------------------------------------------------


def test_nginx_limits_are_in_force_in_the_unit(host) -> None:
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show -p CPUQuotaPerSecUSec,MemoryMax,TasksMax,LimitNOFILE,Restart nginx.service"
        ).splitlines()
    )
    assert props == {
        "CPUQuotaPerSecUSec": "1s",
        "MemoryMax": str(256 * 1024 * 1024),
        "TasksMax": "256",
        "LimitNOFILE": "8192",
        "Restart": "on-failure",
    }


def test_nginx_limits_are_in_force_in_the_kernel_cgroups(host) -> None:
    limits = cgroup_limits(host, "nginx.service")
    assert limits.memory_max == 256 * 1024 * 1024
    assert limits.tasks_max == "256"
    assert limits.cpu_quota == pytest.approx(1.0)
    worker = host.check_output("pgrep -f 'nginx: worker' | head -1")
    assert host.check_output(f"grep 'Max open files' /proc/{worker}/limits").split()[3:5] == ["8192", "8192"]


# --- Changes through Ansible -------------------------------------------------------------------------------
# A converge costs about half a minute: one converge makes several changes at once and the
# tests after it read what each change did; the next one puts the defaults back.

CHANGES = {
    "nginx_upstream_down_hosts": ["nginx-app"],
    "tls_site_names": [SITE, f"www.{SITE}"],
    "nginx_unknown_name": "misdirected",
}


def nginx_master(host) -> str:
    return host.check_output("systemctl show -p MainPID --value nginx.service")


def san(host) -> str:
    return host.check_output(f"openssl x509 -in {CERT} -noout -ext subjectAltName")


def raw_https(host, name: str | None) -> str:
    """An HTTP/1.1 request for `name` over TLS with that SNI (none for None), the chain verified with the CA."""
    sni = ["-servername", name] if name else ["-noservername"]
    cmd = ["openssl", "s_client", "-quiet", "-connect", "127.0.0.1:443", "-CAfile", CA_ON_NODE, "-verify_return_error"]
    request = f"GET / HTTP/1.1\\r\\nHost: {name or 'evil.example'}\\r\\nConnection: close\\r\\n\\r\\n"
    return host.run(f"printf '{request}' | timeout 5 {shlex.join(cmd + sni)} 2>/dev/null").stdout


@pytest.fixture(scope="module")
def changed(host, run_converge) -> str:
    """Converge once with CHANGES; the nginx master's PID from before."""
    master = nginx_master(host)
    result = run_converge(json.dumps(CHANGES))
    assert result.returncode == 0, result.stdout[-3000:]
    return master


def test_a_down_host_gets_no_request_while_nginx_still_serves(host, app_node, changed) -> None:
    assert re.search(
        r"max_fails=3 fail_timeout=10s down;\s+# nginx-app$", host.file(UPSTREAM_CONF).content_string, re.M
    )
    marker = "/while-down"
    answer = https(host, marker)
    assert answer.status == 502  # the only app node is down: nothing is sent to it
    assert_security_headers(answer)
    assert marker not in stub_log(app_node)
    assert https(host, "/static/style.css").status == 200  # Nginx itself still serves


def test_a_new_site_name_gets_a_new_certificate_and_is_served(host, changed) -> None:
    assert f"DNS:www.{SITE}" in san(host)
    answer = curl(host, f"https://www.{SITE}/static/style.css", name=f"www.{SITE}")
    assert answer.status == 200, answer.error


@pytest.mark.parametrize("name", ["other.test", None])
def test_misdirected_completes_any_handshake_and_answers_421_with_the_headers(host, changed, name) -> None:
    answer = raw_https(host, name)
    assert answer.startswith("HTTP/1.1 421 "), answer
    head = answer.lower()
    for header, value in SECURITY_HEADERS.items():
        assert f"{header}: {value.lower()}\r\n" in head, header


def test_the_defaults_come_back_with_reloads_only(host, app_node, changed, run_converge) -> None:
    result = run_converge()
    assert result.returncode == 0, result.stdout[-3000:]
    assert " down;" not in host.file(UPSTREAM_CONF).content_string
    assert https(host, "/back").status == 200
    assert f"www.{SITE}" not in san(host)
    assert curl(host, f"https://www.{SITE}/", name=f"www.{SITE}").rc == 35
    assert raw_https(host, "other.test") == ""
    assert nginx_master(host) == changed  # reloads, never a restart


def test_renew_yml_replaces_a_certificate_due_for_renewal_and_serves_it_at_once(host, app_node) -> None:
    key_before = host.check_output(f"sha256sum {KEY} {PEER_KEY}")
    peer_before = host.check_output(f"openssl x509 -in {PEER_CERT} -noout -fingerprint -sha256")
    served_before = served_fingerprint(host)
    config_before = host.check_output(f"sha256sum {SITE_CONF}")
    # Renewal due when fewer days remain than the certificate in place has left (plus one):
    # due now, whatever role tls's default lifetime is.
    end = host.check_output(f"openssl x509 -in {CERT} -noout -enddate").split("=", 1)[1]
    days_left = (datetime.strptime(end, "%b %d %H:%M:%S %Y %Z") - datetime.now()).days + 1
    renew = PROJECT / "playbooks" / "renew.yml"  # what the operator's daily timer runs
    result = run_playbook(renew, f"tls_cert_days={days_left + 2}", f"tls_renew_days={days_left + 1}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "renew done: the site's certificate on nginx-front has" in result.stdout
    assert served_fingerprint(host) != served_before
    assert served_fingerprint(host) == file_fingerprint(host)
    assert host.check_output(f"sha256sum {KEY} {PEER_KEY}") == key_before
    assert host.check_output(f"sha256sum {SITE_CONF}") == config_before  # only the certificates changed
    assert https(host, "/").status == 200
    # The front's own certificate for mutual TLS was due as well: signed again, and the app
    # node takes the reloaded Nginx's requests with it.
    assert host.check_output(f"openssl x509 -in {PEER_CERT} -noout -fingerprint -sha256") != peer_before
    answer = https(host, "/after-renew")
    assert (answer.status, answer.body.strip()) == (200, "stub nginx-app GET /after-renew")
    assert f"GET /after-renew {answer.headers['x-request-id']} nginx-front\n" in stub_log(app_node)


def test_a_config_nginx_rejects_fails_the_play_and_the_old_one_keeps_serving(host, run_converge) -> None:
    before = host.check_output(f"sha256sum {SITE_CONF} /etc/nginx/nginx.conf {UPSTREAM_CONF}")
    master = nginx_master(host)
    result = run_converge('{"nginx_extra_server_directives": ["bogus_directive on;"]}')
    assert result.returncode != 0
    assert "nginx -t rejected the new configuration" in result.stdout
    assert 'unknown directive \\"bogus_directive\\"' in result.stdout or 'unknown directive "bogus_directive"' in (
        result.stdout
    )
    assert host.check_output(f"sha256sum {SITE_CONF} /etc/nginx/nginx.conf {UPSTREAM_CONF}") == before
    assert host.run("nginx -t").rc == 0
    assert host.check_output("find /etc/nginx -name '*~' | wc -l") == "0"
    assert https(host, "/still-serving").status == 200
    assert nginx_master(host) == master


def test_invalid_inputs_fail_before_any_change_each_named_with_its_value(host, run_converge) -> None:
    # Every input's own message is tested without a node (tests/test_inputs.py); this is the
    # converge: it stops before the front changes.
    before = host.check_output(f"sha256sum {SITE_CONF} {UPSTREAM_CONF}")
    wrong = {
        "nginx_login_rate": "lots",
        "nginx_static_root": "/; autoindex on; #",
        "nginx_upstream_down_hosts": ["app9"],
    }
    result = run_converge(json.dumps(wrong))
    assert result.returncode != 0
    for message in (
        "nginx_login_rate must be a rate like",
        "nginx_static_root must be a directory under /var/www/",
        "nginx_upstream_down_hosts[0] must be a host of group apps (nginx-app)",
    ):
        assert message in result.stdout, result.stdout[-3000:]
    for value in ("lots", "/; autoindex on; #", "app9"):
        assert f'got \\"{value}\\"' in result.stdout or f'got "{value}"' in result.stdout, value
    assert re.search(r"nginx-front\s*: ok=\d+\s+changed=0", result.stdout), result.stdout[-2000:]
    assert host.check_output(f"sha256sum {SITE_CONF} {UPSTREAM_CONF}") == before
