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


def test_unattended_upgrades_is_installed(host) -> None:
    assert host.package("unattended-upgrades").is_installed


def apt_config(host) -> list[str]:
    return host.check_output("apt-config dump").splitlines()


def test_apt_runs_unattended_upgrade_every_day(host) -> None:
    config = apt_config(host)
    assert 'APT::Periodic::Update-Package-Lists "1";' in config
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config


def test_unattended_upgrades_take_the_security_suite_only(host) -> None:
    prefix = "Unattended-Upgrade::Origins-Pattern:: "
    origins = [line.removeprefix(prefix) for line in apt_config(host) if line.startswith(prefix)]
    assert origins, "no Origins-Pattern in apt-config dump"
    # Debian's own 50unattended-upgrades also takes point releases (label=Debian); the role clears that list.
    assert all("label=Debian-Security" in origin for origin in origins), origins
    assert any("codename=${distro_codename}-security" in origin for origin in origins), origins


def test_unattended_upgrades_never_reboot(host) -> None:
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in apt_config(host)


def test_the_security_suite_is_an_apt_source(host) -> None:
    # The node image names only the main suite; the role adds the security suite, and apt has its lists.
    policy = host.check_output("apt-cache policy")
    assert "n=bookworm-security,l=Debian-Security" in policy
