"""make bench's pure code: parsing wrk and h2load output (samples captured from the lab),
percentiles, CPU per request, the report; and the line it says when there is no lab."""

import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))
from bench import cli, http, lab, limits, loads, ops, parse, report, stats, tlscost

# wrk -t2 -c8 -d2s --latency -s bench/wrk_report.lua https://flask-stack.localhost/healthz, one thread
# per front (BENCH_CONNECT), captured on the 2+2 lab.
WRK_SAMPLE = """\
Running 2s test @ https://flask-stack.localhost/healthz
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.24ms   17.34ms 161.09ms   88.99%
    Req/Sec   511.85    351.06     1.44k    69.23%
  Latency Distribution
     50%    5.49ms
     75%   14.50ms
     90%   30.89ms
     99%   81.51ms
  2044 requests in 2.03s, 1.90MB read
Requests/sec:   1007.38
Transfer/sec:      0.94MB
BENCH_RESULT {"requests":2044,"duration_us":2029035,"bytes":1992900,"errors":{"connect":0,"read":0,"write":0,\
"status":0,"timeout":0},"latency_us":{"min":553,"max":161085,"mean":12244.6,"stdev":17343.1,"p50":5488,\
"p90":30894,"p99":81515,"p999":145171}}
"""

# h2load --connect-to=<front1>:443 -c4 -t1 -m1 -D2 --log-file=... https://flask-stack.localhost/nope-404
# (some progress lines left out)
H2LOAD_SAMPLE = """\
starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration \
for measurements.
Warm-up started for thread #0.
progress: 100% of clients started
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.01s, 483.00 req/s, 533.07KB/s
requests: 966 total, 970 started, 966 done, 0 succeeded, 966 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 966 4xx, 0 5xx
traffic: 1.04MB (1091724) total, 599.93KB (614324) headers (space savings 23.66%), 449.04KB (459816) data
                     min         max         mean         sd        +/- sd
time for request:      913us     88.34ms      8.17ms     10.65ms    90.58%
time for connect:     4.36ms     18.88ms     11.31ms      6.14ms    50.00%
time to 1st byte:    65.97ms    107.23ms     77.09ms     20.12ms    75.00%
req/s           :     106.73      131.68      120.45       10.67    50.00%
"""

# The first rows of that run's --log-file: start µs since the epoch, status, µs to the end.
H2LOAD_LOG = """\
1795680041320167\t404\t53013
1795680041316479\t404\t57728
1795680041311606\t404\t63750
1795680041375372\t404\t10116
1795680041373255\t404\t12267
1795680041374231\t404\t13454
1795680041387707\t404\t4423
1795680041392159\t404\t1579
1795680041393762\t404\t6569
1795680041385597\t404\t24657
1795680041385542\t404\t28853
1795680041326110\t404\t88335
1795680041400366\t404\t15259
1795680041414456\t404\t12246
1795680041410296\t404\t3458
"""

RECAP_SAMPLE = """\
PLAY RECAP *********************************************************************
app1                       : ok=61   changed=0    unreachable=0    failed=0    skipped=31   rescued=0    ignored=0
front1                     : ok=70   changed=2    unreachable=0    failed=0    skipped=25   rescued=0    ignored=0
localhost                  : ok=1    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_wrk_result_gives_the_rate_wrk_prints_and_exact_percentiles() -> None:
    load = parse.parse_wrk(WRK_SAMPLE)
    assert load.requests == 2044
    assert load.rps == pytest.approx(1007.38, abs=0.01)  # wrk's own Requests/sec line
    assert (load.p50_ms, load.p90_ms, load.p99_ms, load.p999_ms) == (5.488, 30.894, 81.515, 145.171)
    assert load.max_ms == 161.085
    assert (load.bad_status, load.socket_errors) == (0, 0)


def test_wrk_errors_split_into_bad_status_and_socket_errors() -> None:
    text = WRK_SAMPLE.replace(
        '"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0}',
        '"errors":{"connect":1,"read":2,"write":3,"status":7,"timeout":4}',
    )
    load = parse.parse_wrk(text)
    assert (load.bad_status, load.socket_errors) == (7, 10)


def test_wrk_output_without_the_script_line_is_refused() -> None:
    plain = WRK_SAMPLE.split("BENCH_RESULT")[0]
    with pytest.raises(ValueError, match="BENCH_RESULT"):
        parse.parse_wrk(plain)


def test_h2load_summary() -> None:
    summary = parse.parse_h2load(H2LOAD_SAMPLE)
    assert summary.duration_s == 2.01
    assert (summary.done, summary.errored, summary.timeout) == (966, 0, 0)
    assert summary.status == {"2xx": 0, "3xx": 0, "4xx": 966, "5xx": 0}


def test_h2load_summary_in_milliseconds() -> None:
    text = H2LOAD_SAMPLE.replace("finished in 2.01s,", "finished in 950.12ms,")
    assert parse.parse_h2load(text).duration_s == pytest.approx(0.95012)


def test_h2load_without_summary_is_refused() -> None:
    with pytest.raises(ValueError, match="no summary"):
        parse.parse_h2load("starting benchmark...\nconnect error\n")


def test_h2load_percentiles_come_from_the_log() -> None:
    load = parse.h2load_load(H2LOAD_SAMPLE, H2LOAD_LOG)
    assert load.requests == 15
    # nearest rank over the 15 times: the 8th (p50) and the 15th (p99, p99.9)
    assert (load.p50_ms, load.p99_ms, load.p999_ms, load.max_ms) == (13.454, 88.335, 88.335, 88.335)
    assert load.bad_status == 15  # every answer was a 404
    assert load.rps == pytest.approx(15 / 2.01)


def test_h2load_failed_streams_are_socket_errors_not_latencies() -> None:
    log = H2LOAD_LOG + "1795680041420000\t-1\t5000000\n1795680041420001\t200\t1000\n"
    load = parse.h2load_load(H2LOAD_SAMPLE, log)
    assert load.requests == 16
    assert load.socket_errors == 1
    assert load.bad_status == 15
    assert max(load.latencies_ms) == 88.335


def test_h2load_log_with_a_short_line_is_refused() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse.parse_h2load_log("1\t200\t5\n2\t200\n")


def test_recap_counts_per_host() -> None:
    recap = parse.parse_recap(RECAP_SAMPLE)
    assert recap["front1"] == {"ok": 70, "changed": 2, "unreachable": 0, "failed": 0}
    assert sum(host["changed"] for host in recap.values()) == 2
    assert set(recap) == {"app1", "front1", "localhost"}


@pytest.mark.parametrize(("p", "expected"), [(50, 50), (90, 90), (99, 99), (99.9, 100), (100, 100), (0.5, 1)])
def test_nearest_rank_percentile(p: float, expected: int) -> None:
    assert stats.percentile(list(range(100, 0, -1)), p) == expected


def test_percentile_of_one_value_and_of_none() -> None:
    assert stats.percentile([7.5], 99.9) == 7.5
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 0)


def test_median_of_odd_and_even_counts() -> None:
    assert stats.median([62.0, 60.0, 61.0]) == 61.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        stats.median([])


def test_cpu_per_request() -> None:
    assert stats.cpu_us_per_request(5_000_000_000, 6_000_000_000, 1000) == 1000.0  # 1 s over 1000 requests
    assert stats.cpu_us_per_request(0, 123, 0) is None
    with pytest.raises(ValueError, match="backwards"):
        stats.cpu_us_per_request(10, 5, 1)


def test_ratio() -> None:
    assert stats.ratio(450.0, 300.0) == 1.5
    assert stats.ratio(450.0, 0.0) is None
    assert stats.ratio(None, 300.0) is None


@pytest.mark.parametrize(
    ("span", "percent"),
    [("1s", 100), ("500ms", 50), ("2s", 200), ("1s 500ms", 150), ("250000us", 25), ("infinity", None)],
)
def test_quota_from_systemd(span: str, percent: int | None) -> None:
    assert stats.quota_percent(span) == percent


def test_quota_that_is_not_a_time_span_is_refused() -> None:
    with pytest.raises(ValueError, match="time span"):
        stats.quota_percent("100%")


def test_every_load_is_bounded_in_time_and_per_request() -> None:
    argv = loads.wrk_argv("https://flask-stack.localhost/", loads.Shape(duration_s=8, connections=8), "x.lua")
    assert "-d8s" in argv and "--timeout=5s" in argv and "-c8" in argv


def test_private_hosts_file_names_the_site() -> None:
    text = loads.hosts_file({"flask-stack.localhost": "172.30.77.11"})
    assert "172.30.77.11 flask-stack.localhost\n" in text
    assert text.startswith("127.0.0.1 localhost\n")


def _row(**over: object) -> dict:
    row = {
        "setup": "Gunicorn, app1 loopback",
        "path": "/",
        "rps": 480.9,
        "p50_ms": 12.59,
        "p99_ms": 187.5,
        "p999_ms": 250.0,
        "bad_status": 0,
        "socket_errors": 1,
        "ratio_to_devserver": 1.33,
        "front_cpu_us_per_request": None,
        "app_cpu_us_per_request": 2419.4,
    }
    return {**row, **over}


def test_markdown_table_shows_each_row_with_ratio_and_cpu() -> None:
    results = {
        "lab": {"fronts": 2, "apps": 2},
        "commit": "1b22c46aaaaaaaaa",
        "date": "2026-11-26T08:00:00+00:00",
        "shape": {"duration_s": 8, "connections": 8},
        "apps": {"app1": {"workers": "5", "threads": "2", "worker_class": "gthread", "cpu_quota_pct": 100}},
        "http": [_row(), _row(setup="front1 HTTPS, HTTP/2", front_cpu_us_per_request=225.0, ratio_to_devserver=None)],
        "ops": [
            {
                "title": "no-change site.yml",
                "runs_s": [60.0, 61.0, 59.0],
                "median_s": 60.0,
                "min_s": 59.0,
                "max_s": 61.0,
                "changed_tasks": [0, 0, 0],
                "failed": None,
            }
        ],
    }
    text = report.markdown(results)
    assert "| Gunicorn, app1 loopback | `/` | 480.9 | 12.59 | 187.50 | 250.00 | 0/1 | 1.33 | - | 2,419 |" in text
    assert "| front1 HTTPS, HTTP/2 | `/` | 480.9 | 12.59 | 187.50 | 250.00 | 0/1 | - | 225 | 2,419 |" in text
    assert "| no-change site.yml | 3 | 60.0 | 59.0 | 61.0 | - | 0, 0, 0 |" in text
    results["ops"][0]["failed"] = "run 4 exited 2 after 30 s (log: a.log)"
    text = report.markdown(results)
    assert "| no-change site.yml (1 failed) | 3 | 60.0 |" in text
    assert "- no-change site.yml: run 4 exited 2 after 30 s (log: a.log)" in text
    assert "5 workers x 2 threads (gthread), CPUQuota 100%" in text


def test_no_lab_says_so_in_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lab, "LAB_FILE", tmp_path / "lab.json")
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("no lab: run `make lab` first")


def test_a_lab_still_converging_is_no_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "lab.json").write_text(json.dumps({"state": "converging"}))
    monkeypatch.setattr(lab, "LAB_FILE", tmp_path / "lab.json")
    assert cli.main(["--skip-ops"]) == 2
    assert "no lab: run `make lab` first (the lab is 'converging', not up)" in capsys.readouterr().err


def test_bad_arguments_are_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--ops-runs", "0"]) == 2
    assert "--ops-runs 0" in capsys.readouterr().err


def test_another_runs_deploy_lock_is_recognised_and_other_failures_are_not() -> None:
    held = """fatal: [front1]: FAILED! =>
    msg: |-
        The deploy lock on front1 (/var/lib/flask-stack/deploy.lock) is held; no node was touched:
        run=20261126T080059-778031
"""
    assert ops.lock_held(held)
    assert not ops.lock_held("fatal: [app1]: FAILED! => app1 did not become healthy with release X in 60 s")


def test_the_labs_printed_password_never_reaches_a_log() -> None:
    text = "  login:    demo / Xq3-not-a-real-password\n"
    assert ops.redact(text, ("Xq3-not-a-real-password",)) == "  login:    demo / ********\n"


# h2load -c4 -t1 -m1 -D2 -N5 --log-file=... against Debian 12's nginx 1.22 on 127.0.0.1 with its default
# keepalive_requests (1000): each client's connection closed after 1000 answers and h2load 1.52 opened no
# new one, then waited out the 2 s (TLS and progress lines left out).
H2LOAD_DURATION_CAPPED = """\
starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration \
for measurements.
Process Request Failure:1
Process Request Failure:2
Process Request Failure:3
Process Request Failure:4
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 2000.00 req/s, 134.89KB/s
requests: 4000 total, 4000 started, 4000 done, 4000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 4000 2xx, 0 3xx, 0 4xx, 0 5xx
"""
# Its log's first three rows and the row that ended last: every answer came within 0.43 s.
H2LOAD_DURATION_CAPPED_LOG = """\
1796609240508550\t200\t378
1796609240508589\t200\t320
1796609240508613\t200\t273
1796609240936101\t200\t363
"""

# h2load -c4 -t1 -m1 -n6000 -N5 against the same nginx: 1500 asked of each connection, 1000 served.
H2LOAD_COUNT_CAPPED = """\
starting benchmark...
spawning thread #0: 4 total client(s). 6000 total requests
Process Request Failure:500
Process Request Failure:1000

finished in 1.18s, 3401.52 req/s, 229.42KB/s
requests: 6000 total, 4000 started, 4000 done, 4000 succeeded, 2000 failed, 2000 errored, 0 timeout
status codes: 4000 2xx, 0 3xx, 0 4xx, 0 5xx
"""

# Two playbook runs in one output (as `make lab` could print), in the default callback's format.
PLAYBOOK_OUTPUT = """\
PLAY [Fronts] ******************************************************************

TASK [Gathering Facts] *********************************************************
ok: [front1]

TASK [nginx : Render the site] *************************************************
changed: [front1]

RUNNING HANDLER [nginx : Reload nginx] *****************************************
changed: [front1]

TASK [nginx : Only on Debian 11] ***********************************************
skipping: [front1]

PLAY RECAP *********************************************************************
front1                     : ok=3    changed=2    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0

PLAY [Apps] ********************************************************************

TASK [app : Check] *************************************************************
fatal: [app1]: FAILED! => {"msg": "TASK [not a header] inside a message"}
ok: [app2]

PLAY RECAP *********************************************************************
app1                       : ok=0    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
app2                       : ok=1    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_h2load_summary_keeps_the_requests_asked() -> None:
    summary = parse.parse_h2load(H2LOAD_COUNT_CAPPED)
    assert (summary.total, summary.done, summary.errored) == (6000, 4000, 2000)


def test_h2load_duration_mode_idle_after_the_server_closed_its_connections_is_a_cap() -> None:
    summary = parse.parse_h2load(H2LOAD_DURATION_CAPPED)
    rows = parse.parse_h2load_log(H2LOAD_DURATION_CAPPED_LOG)
    assert limits.busy_span_s(rows) == pytest.approx(0.427914)
    run = limits.h2load_run([(None, summary, rows)], asked_s=2)
    assert run.asked_requests is None
    assert limits.generator_limit(run) == "capped by h2load: 4,000 requests, all answered in 0.4 of 2.0 s"


def test_h2load_count_mode_with_requests_left_undone_is_a_cap() -> None:
    summary = parse.parse_h2load(H2LOAD_COUNT_CAPPED)
    rows = parse.parse_h2load_log(H2LOAD_LOG)
    run = limits.h2load_run([(7200, parse.parse_h2load(H2LOAD_SAMPLE), rows), (6000, summary, rows)], asked_s=3)
    assert (run.asked_requests, run.done) == (13200, 4966)
    assert limits.generator_limit(run) == "capped by h2load: 4,966 of 13,200 requests, its clients stopped early"


def test_h2load_rounds_that_did_all_they_asked_for_the_whole_duration_measured_the_stack() -> None:
    summary = parse.parse_h2load(H2LOAD_SAMPLE)  # 966 asked, 966 done, 2.01 s
    rows = parse.parse_h2load_log(H2LOAD_LOG)
    run = limits.h2load_run([(966, summary, rows)] * 4, asked_s=8)
    assert run.ran_s == pytest.approx(8.04)
    assert limits.generator_limit(run) is None


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (limits.GeneratorRun("wrk", 8, 8.02, 3600), None),
        (limits.GeneratorRun("wrk", 8, 7.3, 3600), None),  # within 10 %
        (limits.GeneratorRun("wrk", 8, 3.5, 1200), "wrk ended early: 1,200 requests in 3.5 of 8 s"),
        (limits.GeneratorRun("h2load", 8, 8.0, 8000, asked_requests=8000), None),
        (
            limits.GeneratorRun("h2load", 10, 10.0, 8000, asked_requests=8960, asked_rps=896, achieved_rps=800),
            "capped by h2load: 8,000 of 8,960 requests, its clients stopped early (800 of 896 req/s asked)",
        ),
        # a fixed rate that the stack could not keep up with is a measurement, not a cap
        (limits.GeneratorRun("h2load", 10, 10.0, 6000, asked_requests=6000, asked_rps=896, achieved_rps=600), None),
    ],
)
def test_generator_limit(run: limits.GeneratorRun, expected: str | None) -> None:
    assert limits.generator_limit(run) == expected


@pytest.mark.parametrize(
    ("elapsed", "done", "rps", "expected"),
    [
        (0.0, 0, None, 8 * limits.H2_FIRST_ROUND_PER_CONNECTION),  # no rate yet: a small first round
        (0.5, 2000, None, 8 * 900),  # 4000 req/s: 7.5 s left would be 3750 a connection, at most 900
        (0.5, 200, None, 8 * 375),  # 400 req/s: 50 a second on each connection for 7.5 s
        (7.5, 3000, None, 8 * 25),  # 400 req/s, 0.5 s left: 200 requests
        (0.0, 0, 112, 8 * 896),  # 112 req/s a connection for 8 s
        (0.0, 0, 140, 8 * 900),  # 1120 a connection for 8 s: at most 900 in one round
        (8.1, 7200, 112, 0),  # time spent
        (7.995, 6000, 100, 0),  # less than one request a connection left
    ],
)
def test_next_round_fills_the_time_left_under_the_per_connection_limit(
    elapsed: float, done: int, rps: int | None, expected: int
) -> None:
    assert limits.next_round(8, elapsed, done, 8, rps_per_client=rps) == expected


def test_an_http2_load_is_rounds_of_h2load_in_count_mode_never_its_duration_mode() -> None:
    argv = loads.h2load_argv(
        "https://flask-stack.localhost/", loads.Shape(8, 8), "172.30.77.11:443", 7200, Path("/tmp/x.tsv"), 112
    )
    assert "-n7200" in argv and "-c8" in argv and "-m1" in argv and "--rps=112" in argv and "-N5" in argv
    assert not any(arg.startswith(("-D", "--duration")) for arg in argv)
    assert limits.H2_REQUESTS_PER_CONNECTION < 1000  # nginx's keepalive_requests, which the role keeps


def test_h2load_rounds_add_up_into_one_load() -> None:
    summary = parse.parse_h2load(H2LOAD_SAMPLE)
    rows = parse.parse_h2load_log(H2LOAD_LOG)
    load = parse.h2load_rounds_load([(summary, rows), (summary, rows[:5])])
    assert (load.requests, load.rounds) == (20, 2)
    assert load.duration_s == pytest.approx(4.02)
    assert load.max_ms == 88.335


def test_wrk_that_ran_its_duration_has_no_limit() -> None:
    shape = loads.Shape(duration_s=2)
    assert loads.with_wrk_limit(parse.parse_wrk(WRK_SAMPLE), shape).limit is None
    short = loads.with_wrk_limit(parse.parse_wrk(WRK_SAMPLE), loads.Shape(duration_s=8))
    assert short.limit == "wrk ended early: 2,044 requests in 2.0 of 8 s"


def test_a_limited_row_shows_its_limit_instead_of_a_rate() -> None:
    limit = "capped by h2load: 8,000 of 8,960 requests, its clients stopped early"
    table = report.http_table([_row(), _row(setup="front1 HTTPS, HTTP/2", limit=limit, ratio_to_devserver=None)])
    assert f"| front1 HTTPS, HTTP/2 | `/` | {limit} | 12.59 |" in table
    assert "| Gunicorn, app1 loopback | `/` | 480.9 |" in table
    assert "not the stack's" in table
    assert "not the stack's" not in report.http_table([_row()])
    fixed = {"rate_rps": 896, "share": 0.7, "peak_rps": 1280.0, "row": _row(limit=limit)}
    assert f"| 896 req/s (70% of 1,280.0) | {limit} |" in report.fixed_rate_table(fixed)


def test_recap_of_several_plays_adds_up_and_tasks_are_counted_once_per_host() -> None:
    totals = parse.recap_totals(PLAYBOOK_OUTPUT)
    assert totals == {
        "ok": 4, "changed": 2, "unreachable": 0, "failed": 1, "skipped": 1, "rescued": 0, "ignored": 0
    }  # fmt: skip
    assert parse.tasks_run(totals) == 6  # ok (changed among them) + failed + skipped
    assert parse.task_headers(PLAYBOOK_OUTPUT) == 5  # 4 TASK + 1 RUNNING HANDLER, not the one in a message
    assert parse.recap_totals(RECAP_SAMPLE)["skipped"] == 56
    assert parse.recap_totals("no recap")["ok"] == 0


@pytest.mark.parametrize(("current", "other"), [("536870912", "576M"), ("402653184", "448M"), ("infinity", "512M")])
def test_the_settings_change_differs_from_the_units_memory_max(current: str, other: str) -> None:
    assert ops.other_memory_max(current) == other


def _lab() -> lab.Lab:
    node = lab.Node("app1", "apps", "c-app1", "172.30.77.21")
    return lab.Lab("s.localhost", Path("/ca.pem"), ROOT / "inventory" / "lab" / "hosts.yml", (node,), {}, "up")


def test_ops_rows_and_their_runs() -> None:
    built = ops.build_ops(_lab(), "576M")
    keys = [op.key for op in built]
    assert keys == ["site-first", "site", "restart", "setting", "setting-back", "deploy", "deploy-kept", "make-lab"]
    plan = ops.build_plan(built, 3, ["bench-1", "bench-2", "bench-3"])
    counts = {key: sum(1 for op, _cmd in plan if op.key == key) for key in keys}
    assert counts == {
        "site-first": 1, "site": 3, "restart": 3, "setting": 3, "setting-back": 3,
        "deploy": 3, "deploy-kept": 1, "make-lab": 3,
    }  # fmt: skip
    commands = [" ".join(cmd) for _op, cmd in plan]
    settings = [(op.key, cmd) for op, cmd in plan if op.key.startswith("setting")]
    assert [key for key, _cmd in settings] == ["setting", "setting-back"] * 3  # each change is undone next
    assert settings[0][1][-2:] == ["-e", "app_memory_max=576M"]
    assert settings[1][1] == [".venv/bin/ansible-playbook", "-i", "inventory/lab", "playbooks/site.yml"]
    assert sum("release=bench-" in c for c in commands) == 3
    assert commands[-1] == "make lab"


def test_an_ops_row_has_its_tasks_and_changed_per_run_in_the_table() -> None:
    op = ops.Op("site", "no-change site.yml", ["x"], [60.0, 61.0, 59.0], [0, 0, 0], [412, 412, 410], [160, 160, 159])
    row = op.as_json()
    assert (row["tasks"], row["task_headers"], row["median_s"]) == ([412, 412, 410], [160, 160, 159], 60.0)
    table = report.ops_table([{**row, "failed": None}])
    assert "| no-change site.yml | 3 | 60.0 | 59.0 | 61.0 | 412, 412, 410 | 0, 0, 0 |" in table
    assert "ok + failed + skipped + rescued" in table


def test_the_limited_rows_are_named_fixed_rate_included() -> None:
    limit = "capped by h2load: 8,000 of 8,960 requests, its clients stopped early"
    results = {"http": [_row(), _row(path="/healthz", limit=limit)], "fixed_rate": {"row": _row(limit=limit)}}
    assert [r["path"] for r in cli.limited_rows(results)] == ["/healthz", "/"]
    assert cli.limited_rows({"http": [_row(limit=None)]}) == []


def _tls_row(key: str, path: str, front_us: float, app_us: float, rps: float = 1000.0) -> http.Row:
    load = parse.Load(requests=int(rps * 8), duration_s=8.0, p50_ms=4, p90_ms=6, p99_ms=9, p999_ms=12, max_ms=20)
    return http.Row(key, f"front1 HTTPS, HTTP/1.1, {key}", path, "HTTP/1.1", "wrk", load, front_us, app_us)


def test_the_cost_of_mutual_tls_is_the_total_with_over_without_and_over_the_goal_is_said() -> None:
    cost = tlscost.TlsCost(
        rows=[
            _tls_row("mtls /healthz", "/healthz", 150, 700),
            _tls_row("mtls /", "/", 170, 1500),
            _tls_row("plain /healthz", "/healthz", 140, 660),
            _tls_row("plain /", "/", 160, 1300),
            _tls_row("mtls-back /healthz", "/healthz", 160, 740),
            _tls_row("mtls-back /", "/", 190, 1560),
        ]
    )
    by_path = {c["path"]: c for c in cost.comparison()}
    healthz, root = by_path["/healthz"], by_path["/"]
    assert healthz["with"] == {"rps": 1000.0, "front_us": 155.0, "app_us": 720.0, "total_us": 875.0}
    assert healthz["ratio_total"] == pytest.approx(875 / 800) and healthz["over_goal"] is False
    assert root["ratio_total"] == pytest.approx(1710 / 1460) and root["over_goal"] is True
    text = report.markdown({**_results(), "tls_cost": json.loads(json.dumps(cost.as_json()))})
    assert "| `/healthz` | 1,000.0 / 1,000.0 | 155 / 140 | 720 / 660 | 875 / 800 | 1.094 |" in text
    assert "Over the goal (total with / without at most 1.10): `/` (1.171)." in text
    assert "| front1 HTTPS, HTTP/1.1, plain /healthz | `/healthz` | 1,000.0 |" in text
    assert "CPUQuota 100%, mutual TLS." in text


def test_mutual_tls_is_switched_off_with_a_boolean_and_back_with_a_plain_site_yml() -> None:
    assert tlscost.PLAIN == ["-e", '{"app_tls": false}'] and json.loads(tlscost.PLAIN[1]) == {"app_tls": False}


def _results() -> dict[str, object]:
    return {
        "lab": {"fronts": 2, "apps": 2},
        "commit": "cfc699faaab5aaaa",
        "date": "2026-12-07T18:00:00+00:00",
        "shape": {"duration_s": 8, "connections": 8},
        "apps": {
            "app1": {"workers": "2", "threads": "2", "worker_class": "gthread", "cpu_quota_pct": 100, "tls": True}
        },
    }
