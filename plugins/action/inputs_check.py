"""Action plugin ``inputs_check``: every input of one or more roles checked in one task.

    - name: Check the inputs of role app
      inputs_check:
        roles: [app]

For each role it reads, on the controller, what the role itself would read: its
``defaults/main.yml`` (under the host's variables), its ``vars/main.yml`` (over them) and the
options of entry point ``main`` in ``meta/argument_specs.yml``. Then, with no node touched:

- ``__<role>_inputs``, the role's contract: one entry per variable, keyed by its name, with
  ``pattern`` (the whole value must match: fullmatch), ``min``/``max`` (an integer within
  the bounds), ``nonempty``, ``ok`` (a condition), ``each`` (the same keys for every element
  of a list, named like ``name[1]``), ``when`` (checked only when true) and ``hint``, what
  the message says the value must be;
- ``__<role>_input_rows``, the rows the role computes (list elements with their own names,
  environment entries, other hosts' addresses, cross-variable conditions), each with a
  ``name`` and a ``value`` and the keys above, plus ``secret`` (the value is never shown) and
  ``strong`` (a secret that must look random);
- the argument specs (types, choices), for a variable whose contract found nothing wrong.

A wrong variable gets one message of its own, ``app_port must be between 1 and 65535; got 0``,
a secret's value shown as ``(hidden)``; every role is checked before the task fails, so one
run names every wrong variable. ``__<role>_share``, when a role has one, is rendered for every
host of the play (each with its own variables) and offered to the checks as
``__<role>_shares`` ({host: share}), and returned in ``shares``: how role vip checks that the
hosts of its group agree, in one task. The result names the ``roles`` checked;
``playbooks/plays/inputs.yml`` registers it as ``inputs_checked`` and the roles' entry points
then skip their own check.
"""

from __future__ import annotations

import json
import re
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

HIDDEN = "(hidden)"
INTEGER = re.compile(r"-?[0-9]+")
TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Where the project keeps its roles when roles_path does not name them.
PROJECT_ROLES = Path(__file__).resolve().parents[2] / "roles"

Row = Mapping[str, Any]


# --- The checks: plain data in, messages out --------------------------------------------


def text(value: Any) -> str:
    """The value as Jinja's ``string`` filter shows it (what a pattern is matched against)."""
    return value if isinstance(value, str) else str(value)


def is_true(value: Any) -> bool:
    """Ansible's ``bool`` filter: true, yes, on, 1 (any case) and the boolean true."""
    if isinstance(value, bool):
        return value
    return text(value).strip().lower() in TRUE


def shown(row: Row) -> str:
    """The value in a message: JSON, or (hidden) for a secret."""
    if row.get("secret"):
        return HIDDEN
    return json.dumps(row.get("value"), default=str)


def wanted(row: Row) -> str:
    """What the value must be: the row's hint, else its bounds."""
    if row.get("hint"):
        return " ".join(text(row["hint"]).split())
    low, high = row.get("min"), row.get("max")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return "valid"


def within(value: Any, low: Any, high: Any) -> bool:
    """An integer (written as one, not a boolean or a float) within the bounds given."""
    if isinstance(value, bool) or not INTEGER.fullmatch(text(value)):
        return False
    number = int(text(value))
    return (low is None or number >= int(low)) and (high is None or number <= int(high))


def strong(value: str, rule: Mapping[str, Any]) -> bool:
    """Role app's rule for a secret key: long, varied, and no placeholder in it."""
    lowered = value.lower()
    return (
        len(value) >= int(rule.get("min_length", 0))
        and len(set(value)) >= int(rule.get("min_distinct", 0))
        and not any(text(word).lower() in lowered for word in rule.get("placeholders", []))
    )


def row_ok(row: Row) -> bool:
    """True when the row's value passes every check the row has."""
    value = row.get("value")
    if "pattern" in row and re.fullmatch(text(row["pattern"]), text(value)) is None:
        return False
    if ("min" in row or "max" in row) and not within(value, row.get("min"), row.get("max")):
        return False
    if row.get("nonempty") and (value is None or len(value) == 0):
        return False
    if "ok" in row and not is_true(row["ok"]):
        return False
    return not row.get("strong") or strong(text(value), row["strong"])


def row_problem(row: Row) -> str | None:
    """The row's message when its value is wrong, else None."""
    if "when" in row and not is_true(row["when"]):
        return None
    if row_ok(row):
        return None
    return f"{row['name']} must be {wanted(row)}; got {shown(row)}"


def contract_rows(name: str, contract: Mapping[str, Any], value: Any) -> list[dict[str, Any]]:
    """One variable's contract as rows: the value itself, then each element of a list."""
    own = {key: item for key, item in contract.items() if key != "each"}
    rows = [{"name": name, "value": value, **own}] if set(own) - {"hint", "when"} else []
    each = contract.get("each")
    if each is None or ("when" in contract and not is_true(contract["when"])):
        return rows
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        return [*rows, {"name": name, "value": value, "ok": False, "hint": "a list"}]
    return rows + [{"name": f"{name}[{index}]", "value": item, **each} for index, item in enumerate(value)]


def problems(rows: Iterable[Row]) -> list[str]:
    """One message per wrong row name (the first problem found), in the rows' order."""
    messages: dict[str, str] = {}
    for row in rows:
        name = text(row.get("name", "?"))
        if name not in messages and (message := row_problem(row)):
            messages[name] = message
    return list(messages.values())


def variable_of(message: str) -> str:
    """The variable a message is about: the name it starts with (app_port[1] -> app_port)."""
    match = NAME.match(message)
    return match.group(0) if match else ""


def spec_problems(options: Mapping[str, Any], values: Mapping[str, Any], named: set[str]) -> list[str]:
    """The argument specs' verdict on the values, for the variables not named already."""
    result = ArgumentSpecValidator(dict(options)).validate(dict(values))
    messages = []
    for message in result.error_messages:
        about = [name for name in options if re.search(rf"\b{re.escape(name)}\b", message)]
        if named.intersection(about):
            continue
        secret = next((name for name in about if options[name].get("no_log")), None)
        if secret:
            kind = options[secret].get("type", "str")
            message = f"{secret} does not match its argument spec (type {kind}); got {HIDDEN}"
        messages.append(message)
    return messages


def plain(value: Any) -> Any:
    """Templated data as plain dicts, lists and scalars (for a task result)."""
    if isinstance(value, Mapping):
        return {text(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return text(value)


# --- The role, as Ansible would read it -------------------------------------------------


def role_dir(name: str, search: Sequence[str]) -> Path:
    for base in [*search, str(PROJECT_ROLES)]:
        path = Path(base).expanduser() / name
        if (path / "meta" / "argument_specs.yml").is_file():
            return path
    raise AnsibleError(f"inputs_check: no role {name} with meta/argument_specs.yml in {', '.join(search)}")


class Role:
    """One role's defaults, vars and argument specs, and its checks for one host."""

    def __init__(self, name: str, path: Path, load: Callable[[Path], Any]) -> None:
        self.name = name
        self.path = path
        self.defaults = load(path / "defaults" / "main.yml") or {}
        self.vars = load(path / "vars" / "main.yml") or {}
        specs = load(path / "meta" / "argument_specs.yml") or {}
        self.options: Mapping[str, Any] = specs["argument_specs"]["main"].get("options") or {}

    def scope(self, host_vars: Mapping[str, Any], extra: Mapping[str, Any]) -> ChainMap[str, Any]:
        """Role vars over the host's variables over role defaults, as inside the role (``extra`` on top)."""
        own = {"role_path": str(self.path), "role_name": self.name, **extra}
        return ChainMap(own, dict(self.vars), host_vars, dict(self.defaults))

    def messages(self, resolve: Callable[[str], Any]) -> list[str]:
        """Every wrong variable of the role, one message each."""
        rows: list[Row] = []
        failed: list[str] = []
        for name, contract in self.table(resolve, failed).items():
            try:
                rows += contract_rows(name, contract, resolve(name))
            except AnsibleError as error:
                failed.append(f"{name} could not be read: {error.message}")
        try:
            rows += list(resolve(f"__{self.name}_input_rows")) if f"__{self.name}_input_rows" in self.vars else []
        except AnsibleError as error:
            failed.append(f"The computed checks of role {self.name} could not be read: {error.message}")
        found = failed + problems(rows)
        named = {variable_of(message) for message in found}
        return found + spec_problems(self.options, self.values(resolve), named)

    def table(self, resolve: Callable[[str], Any], failed: list[str]) -> Mapping[str, Mapping[str, Any]]:
        if f"__{self.name}_inputs" not in self.vars:
            return {}
        try:
            return resolve(f"__{self.name}_inputs")
        except AnsibleError as error:
            failed.append(f"The input contract of role {self.name} could not be read: {error.message}")
            return {}

    def values(self, resolve: Callable[[str], Any]) -> dict[str, Any]:
        values = {}
        for name in self.options:
            try:
                values[name] = resolve(name)
            except AnsibleError:
                continue  # undefined: the specs name it when it is required
        return values


class ActionModule(ActionBase):
    """Check the inputs of the roles named in ``roles``; fail with one message per wrong variable."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset({"roles", "footer"})

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        names = [text(name) for name in self._task.args.get("roles") or []]
        footer = text(self._task.args.get("footer", "Nothing was changed."))
        roles = [Role(name, role_dir(name, C.DEFAULT_ROLES_PATH), self._load) for name in names]
        messages: list[str] = []
        shares: dict[str, Any] = {}
        for role in roles:
            extra = {}
            if f"__{role.name}_share" in role.vars:
                shares[role.name] = extra[f"__{role.name}_shares"] = self._shares(role, task_vars)
            templar = self._templar.copy_with_new_env(available_variables=role.scope(task_vars, extra))
            messages += role.messages(templar.resolve_variable_expression)
        result.update(changed=False, roles=names, shares=shares)
        if messages:
            result.update(failed=True, inputs_wrong=messages, msg="\n".join([*messages, footer]))
        else:
            result["msg"] = f"The inputs of role {', role '.join(names)} are right."
        return result

    def _load(self, path: Path) -> Any:
        return self._loader.load_from_file(str(path), trusted_as_template=True) if path.is_file() else None

    def _shares(self, role: Role, task_vars: Mapping[str, Any]) -> dict[str, Any]:
        """``__<role>_share`` rendered for every host of the play, each with its own variables."""
        me = task_vars.get("inventory_hostname")
        hostvars = task_vars.get("hostvars")
        shares = {}
        for host in task_vars.get("ansible_play_hosts_all") or [me]:
            host_vars = task_vars if host == me or hostvars is None else hostvars.raw_get(host)
            templar = self._templar.copy_with_new_env(available_variables=role.scope(host_vars, {}))
            try:
                shares[host] = plain(templar.resolve_variable_expression(f"__{role.name}_share"))
            except AnsibleError:
                continue  # that host's own check names what is missing
        return shares
