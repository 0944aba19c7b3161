"""Role READMEs: the variable tables are generated from meta/argument_specs.yml and kept current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from role_docs import main, markup, render_default

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def roles(tmp_path: Path) -> Path:
    """A copy of role common, alone under a roles/ directory."""
    shutil.copytree(ROOT / "roles" / "common", tmp_path / "roles" / "common")
    return tmp_path / "roles"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new))


def test_the_repository_readmes_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0, capsys.readouterr().err


def test_an_edited_description_makes_check_fail_naming_the_readme(
    roles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = roles / "common" / "README.md"
    before = readme.read_text()
    edit(roles / "common" / "meta" / "argument_specs.yml", "Packages every node gets.", "Packages on every node.")

    assert main(["--check", "--roles", str(roles)]) == 1
    err = capsys.readouterr().err
    assert "roles/common/README.md is out of date" in err
    assert "run: make docs" in err
    assert readme.read_text() == before

    assert main(["--roles", str(roles)]) == 0
    assert "| Packages on every node. |" in readme.read_text()
    assert main(["--check", "--roles", str(roles)]) == 0


def test_a_default_without_a_spec_fails_naming_the_variable(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (roles / "common" / "defaults" / "main.yml").open("a") as defaults:
        defaults.write("common_undocumented: 1\n")
    readme = roles / "common" / "README.md"
    before = readme.read_text()

    for argv in (["--check"], []):
        assert main([*argv, "--roles", str(roles)]) == 1
        err = capsys.readouterr().err
        assert "role common: common_undocumented is set in defaults/main.yml but has no spec" in err
    assert readme.read_text() == before


def test_a_spec_carrying_a_default_fails(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(
        roles / "common" / "meta" / "argument_specs.yml",
        "      common_timezone:\n        type: str\n",
        "      common_timezone:\n        type: str\n        default: Etc/UTC\n",
    )
    for argv in (["--check"], []):
        assert main([*argv, "--roles", str(roles)]) == 1
        assert "role common: common_timezone (entry point main) carries default:" in capsys.readouterr().err


def test_an_option_without_a_default_must_be_required(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(roles / "common" / "defaults" / "main.yml", "common_timezone: Etc/UTC\n", "")
    assert main(["--check", "--roles", str(roles)]) == 1
    assert "common_timezone (entry point main) has no value in defaults/main.yml" in capsys.readouterr().err

    edit(
        roles / "common" / "meta" / "argument_specs.yml",
        "      common_timezone:\n        type: str\n",
        "      common_timezone:\n        type: str\n        required: true\n",
    )
    assert main(["--roles", str(roles)]) == 0
    assert "| `common_timezone` | str, **required** | — |" in (roles / "common" / "README.md").read_text()


def test_other_entry_points_get_a_section_each(roles: Path) -> None:
    with (roles / "common" / "meta" / "argument_specs.yml").open("a") as specs:
        specs.write(
            "  refresh:\n"
            "    short_description: Only refresh the apt cache.\n"
            "    options:\n"
            "      common_apt_cache_valid_time:\n"
            "        type: int\n"
            "        description: Seconds an apt cache stays fresh.\n"
        )
    assert main(["--roles", str(roles)]) == 0
    text = (roles / "common" / "README.md").read_text()
    section = text[text.index("### Entry point `refresh`") :]
    assert section.startswith("### Entry point `refresh`\n\nOnly refresh the apt cache.\n\n| variable |")
    assert (
        "| `common_apt_cache_valid_time` | int | `3600` | between 0 and 604800 | Seconds an apt cache stays fresh. |"
    ) in section
    assert section.index("<!-- END VARIABLES -->") > section.index("Seconds an apt cache stays fresh.")


def test_an_entry_point_without_options_says_so_instead_of_an_empty_table(roles: Path) -> None:
    with (roles / "common" / "meta" / "argument_specs.yml").open("a") as specs:
        specs.write("  status:\n    short_description: Read the node's state. Read-only.\n    options: {}\n")
    assert main(["--roles", str(roles)]) == 0
    text = (roles / "common" / "README.md").read_text()
    section = text[text.index("### Entry point `status`") : text.index("<!-- END VARIABLES -->")]
    assert section == (
        "### Entry point `status`\n\nRead the node's state. Read-only.\n\n"
        "No options of its own: it reads those of entry point `main`.\n\n"
    )


def test_the_contract_in_vars_is_the_must_be_column(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (roles / "common" / "README.md").read_text()
    assert "| `common_apt_cache_valid_time` | int | `3600` | between 0 and 604800 |" in text
    assert "| an IANA time zone name such as 'Europe/Berlin' |" in text
    assert "| each: a Debian package name (lowercase letters, digits and + . -), optionally =version |" in text

    edit(roles / "common" / "vars" / "main.yml", "{min: 0, max: 604800}", "{min: 0, max: 86400}")
    assert main(["--check", "--roles", str(roles)]) == 1
    assert "roles/common/README.md is out of date" in capsys.readouterr().err
    assert main(["--roles", str(roles)]) == 0
    assert (
        "| `common_apt_cache_valid_time` | int | `3600` | between 0 and 86400 |"
        in (roles / "common" / "README.md").read_text()
    )


def test_a_contract_for_a_variable_without_a_spec_fails(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(roles / "common" / "vars" / "main.yml", "  common_apt_cache_valid_time:", "  common_apt_cache_validtime:")
    assert main(["--check", "--roles", str(roles)]) == 1
    err = capsys.readouterr().err
    assert "role common: common_apt_cache_validtime in __common_inputs (vars/main.yml) has no spec" in err


def test_a_templated_hint_fails(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(
        roles / "common" / "vars" / "main.yml",
        "hint: \"an IANA time zone name such as 'Europe/Berlin'\"",
        'hint: "an IANA time zone name such as {{ common_timezone }}"',
    )
    assert main(["--check", "--roles", str(roles)]) == 1
    assert "common_timezone in __common_inputs (vars/main.yml) says what it must be with a template" in (
        capsys.readouterr().err
    )


def test_a_readme_without_markers_fails(roles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(roles / "common" / "README.md", "<!-- END VARIABLES -->", "")
    assert main(["--roles", str(roles)]) == 1
    assert "role common: README.md needs one line <!-- BEGIN VARIABLES" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Runs C(apt-get update) when V(true).", "Runs `apt-get update` when `true`."),
        ("See O(common_packages) and I(never) B(ever).", "See `common_packages` and *never* **ever**."),
        ("Names C(a|b) of E(PATH), <name>.", "Names `a\\|b` of `PATH`, &lt;name>."),
        (
            "L(Docs, https://example.org) or U(https://example.org).",
            "[Docs](https://example.org) or <https://example.org>.",
        ),
    ],
)
def test_ansible_markup_becomes_markdown(text: str, expected: str) -> None:
    assert markup(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", '`""`'),
        ("Etc/UTC", "`Etc/UTC`"),
        ("1", '`"1"`'),
        (False, "`false`"),
        ([], "`[]`"),
        (["a", "b"], "`[a, b]`"),
        ({"A": "1"}, "`{A: '1'}`"),
        ("{{ x | default(1) }}", "`{{ x \\| default(1) }}`"),
        ("x" * 80, "`" + "x" * 63 + "…`"),
    ],
)
def test_defaults_render_as_short_inline_code(value: object, expected: str) -> None:
    assert render_default(value) == expected
