"""The input checker (plugins/action/inputs_check.py) on plain rows, without a playbook.

tests/test_inputs.py runs it through playbooks/plays/inputs.yml with every role's contract;
here are its rules one by one: bounds, whole-value patterns, conditions, list elements,
hidden secrets, role app's secret-strength rule, one message per variable.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from conftest import ROOT


def load_checker() -> ModuleType:
    path = ROOT / "plugins" / "action" / "inputs_check.py"
    spec = importlib.util.spec_from_file_location("inputs_check", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


checker = load_checker()
STRONG = {"min_length": 32, "min_distinct": 10, "placeholders": ["change-me", "example"]}


def problem(**row: object) -> str | None:
    return checker.row_problem({"name": "v", **row})


@pytest.mark.parametrize("value", [1, 65535, "8000", 80])
def test_a_value_within_its_bounds_passes(value: object) -> None:
    assert problem(value=value, min=1, max=65535) is None


@pytest.mark.parametrize("value", [0, 65536, -1, "not-a-port", "80\n", 80.0, True, "", None, "1e3"])
def test_a_value_outside_its_bounds_or_not_an_integer_is_named_with_its_bounds(value: object) -> None:
    message = problem(value=value, min=1, max=65535)
    assert message is not None and message.startswith("v must be between 1 and 65535; got ")


def test_the_message_shows_the_value_as_json() -> None:
    assert checker.row_problem({"name": "app_port", "value": 0, "min": 1, "max": 65535}) == (
        "app_port must be between 1 and 65535; got 0"
    )
    assert problem(value="1m;\n", pattern="[0-9]+m", hint="a size") == 'v must be a size; got "1m;\\n"'


def test_bounds_given_as_templated_strings_are_numbers() -> None:
    assert problem(value=90, min="90", max="3600") is None
    assert problem(value=89, min="90", max="3600") == "v must be between 90 and 3600; got 89"


def test_one_bound_alone() -> None:
    assert problem(value=-1, min=0) == "v must be at least 0; got -1"
    assert problem(value=7, max=6) == "v must be at most 6; got 7"


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("[a-z]+", "abc\n"),  # a final newline, which `$` would let by
        ("^[a-z]+$", "abc\n"),
        ("[a-z]+", "abc; x"),  # a match of the start only
        ("[a-z]+", "x abc"),
        ("[0-9]+", True),
    ],
)
def test_a_pattern_must_match_the_whole_value(pattern: str, value: object) -> None:
    assert problem(value=value, pattern=pattern, hint="letters") is not None


@pytest.mark.parametrize(("pattern", "value"), [("[a-z]+", "abc"), ("^[a-z]+\\Z", "abc"), ("[0-9]+", 42)])
def test_a_value_that_matches_whole_passes(pattern: str, value: object) -> None:
    assert problem(value=value, pattern=pattern, hint="x") is None


def test_booleans_are_matched_as_jinja_shows_them() -> None:
    assert problem(value=True, pattern="(True|False|true|false)", hint="true or false") is None


@pytest.mark.parametrize(
    ("ok", "passes"), [(True, True), ("True", True), ("yes", True), (False, False), ("False", False)]
)
def test_an_ok_row_is_its_condition(ok: object, passes: bool) -> None:
    assert (problem(value=[], ok=ok, hint="a non-empty list") is None) is passes


def test_a_row_whose_when_is_false_is_not_checked() -> None:
    assert problem(value="x", min=1, max=2, when="False") is None
    assert problem(value="x", min=1, max=2, when=True) is not None


def test_nonempty() -> None:
    assert problem(value=[], nonempty=True, hint="a non-empty list") == "v must be a non-empty list; got []"
    assert problem(value=["a"], nonempty=True) is None


def test_a_secret_is_checked_but_never_shown() -> None:
    message = problem(value="line\nbreak", secret=True, pattern="[^\\n]*", hint="one line")
    assert message == "v must be one line; got (hidden)"
    assert "break" not in message


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-string-of-48-or-more-chars",  # a placeholder word
        "ab" * 24,  # long, but 2 different characters
        "Tiny-Key-9",  # short
    ],
)
def test_a_weak_secret_key_is_refused_without_its_value(key: str) -> None:
    message = problem(value=key, secret=True, strong=STRONG, hint="a random key")
    assert message == "v must be a random key; got (hidden)"


def test_a_random_secret_key_passes() -> None:
    assert problem(value="q8Xv-2LmZr_0aTnWk3bYc7HdPeJs9UfG4iOoR1", secret=True, strong=STRONG) is None


def test_a_contract_with_each_checks_every_element_under_its_own_name() -> None:
    contract = {"nonempty": True, "hint": "a non-empty list", "each": {"pattern": "[a-z]+", "hint": "a name"}}
    rows = checker.contract_rows("names", contract, ["ok", "Bad", "fine", "no way"])
    assert checker.problems(rows) == [
        'names[1] must be a name; got "Bad"',
        'names[3] must be a name; got "no way"',
    ]
    assert checker.problems(checker.contract_rows("names", contract, [])) == ["names must be a non-empty list; got []"]


def test_each_refuses_a_value_that_is_not_a_list() -> None:
    rows = checker.contract_rows("names", {"each": {"pattern": "[a-z]+"}}, "abc")
    assert checker.problems(rows) == ['names must be a list; got "abc"']


def test_one_message_per_variable_the_first_problem_found() -> None:
    rows = [
        {"name": "ssh_permit_root_login", "value": "yes", "pattern": "no|prohibit-password", "hint": "a policy"},
        {"name": "ssh_permit_root_login", "value": "yes", "ok": False, "hint": "not a lockout"},
        {"name": "ssh_max_sessions", "value": 0, "min": 1, "max": 100},
    ]
    assert checker.problems(rows) == [
        'ssh_permit_root_login must be a policy; got "yes"',
        "ssh_max_sessions must be between 1 and 100; got 0",
    ]


def test_the_argument_specs_name_a_variable_the_contract_did_not() -> None:
    options = {
        "nginx_upstream_method": {"type": "str", "choices": ["least_conn", "round_robin"]},
        "nginx_status_port": {"type": "int"},
    }
    values = {"nginx_upstream_method": "random", "nginx_status_port": "x"}
    messages = checker.spec_problems(options, values, named={"nginx_status_port"})
    assert len(messages) == 1 and "nginx_upstream_method" in messages[0] and "random" in messages[0]


def test_the_argument_specs_never_show_a_secret() -> None:
    options = {"app_secret_environment": {"type": "dict", "no_log": True}}
    messages = checker.spec_problems(options, {"app_secret_environment": "s3cret-value"}, named=set())
    assert messages == ["app_secret_environment does not match its argument spec (type dict); got (hidden)"]


def test_variable_of_a_message() -> None:
    assert checker.variable_of("app_readwrite_paths[1] must be x") == "app_readwrite_paths"
    assert checker.variable_of("app_environment.LOGINAPP_ENV must be x") == "app_environment"


def test_every_role_contract_names_only_variables_with_a_spec() -> None:
    """The contract is a table keyed by variable: a misspelt name would check nothing."""
    import yaml

    for role in sorted(path for path in (ROOT / "roles").iterdir() if (path / "vars" / "main.yml").is_file()):
        contract = (yaml.safe_load((role / "vars" / "main.yml").read_text()) or {}).get(f"__{role.name}_inputs") or {}
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        options = {name for entry in specs.values() for name in (entry.get("options") or {})}
        assert set(contract) <= options, f"role {role.name}: {sorted(set(contract) - options)}"
        for name, entry in contract.items():
            assert set(entry) <= {"pattern", "min", "max", "nonempty", "ok", "each", "when", "hint"}, (role.name, name)
