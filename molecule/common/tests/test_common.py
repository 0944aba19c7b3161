"""What a user of role `common` sees on a node."""

import pytest

testinfra_hosts = ["ansible://all"]


@pytest.mark.parametrize("package", ["ca-certificates", "curl", "python3-apt", "tzdata", "jq"])
def test_base_and_extra_packages_are_installed(host, package: str) -> None:
    assert host.package(package).is_installed


def test_time_zone_is_the_configured_one(host) -> None:
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Berlin"
    assert host.check_output("date +%Z") in {"CET", "CEST"}


def test_apt_cache_is_fresh(host) -> None:
    lists = host.check_output("find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' | wc -l")
    assert int(lists) > 0


def test_node_runs_systemd_as_pid_one(host) -> None:
    assert host.check_output("ps -o comm= -p 1") == "systemd"
    assert host.service("ssh").is_running
