"""make lint refuses a vault file under the inventories that is not encrypted, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from check_vaults import main

ENCRYPTED = "$ANSIBLE_VAULT;1.1;AES256\n6133\n"
PLAIN = 'vault_loginapp_secret_key: "a-secret-that-must-not-be-printed"\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_repository_inventories_hold_no_plain_vault_file() -> None:
    assert main([]) == 0


@pytest.mark.parametrize(
    "name", ["prod/group_vars/apps/vault.yml", "prod/group_vars/all/db.vault.yaml", "prod/group_vars/all/vault/app.yml"]
)
def test_a_plain_vault_file_fails_naming_it_and_never_its_content(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = write(tmp_path / name, PLAIN)
    assert main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{plain}: a vault file that is not encrypted; run: .venv/bin/ansible-vault encrypt {plain}" in err
    assert "a-secret" not in err


def test_encrypted_vault_files_examples_and_other_files_pass(tmp_path: Path) -> None:
    write(tmp_path / "prod/group_vars/apps/vault.yml", ENCRYPTED)
    write(tmp_path / "prod/group_vars/apps/vault.yml.example", PLAIN)
    write(tmp_path / "prod/group_vars/apps/main.yml", "app_port: 8000\n")
    assert main(["--root", str(tmp_path)]) == 0
