"""Which CRIU the sandbox's SnapStart snapshots use, and the reason when there is none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_sandbox import _criu
from lambda_sandbox._criu import SnapshotUnavailableError


def _fake_criu(tmp_path: Path, version: str, check_status: int = 0) -> Path:
    script = tmp_path / "criu"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = --version ] && {{ echo "Version: {version}"; exit 0; }}\n'
        f'[ "$1" = check ] && {{ echo "check said {check_status}" >&2; exit {check_status}; }}\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)


def test_off_turns_snapshots_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_SANDBOX_CRIU", "off")
    with pytest.raises(SnapshotUnavailableError, match="LAMBDA_SANDBOX_CRIU=off turns"):
        _criu._locate()


def test_not_root_is_unavailable_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_SANDBOX_CRIU", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SnapshotUnavailableError, match="CRIU needs root"):
        _criu._locate()


@pytest.mark.usefixtures("root")
def test_a_chosen_criu_older_than_4_2_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_SANDBOX_CRIU", str(_fake_criu(tmp_path, "3.17.1")))
    with pytest.raises(SnapshotUnavailableError, match=r"CRIU 3\.17\.1; 4\.2 or later is needed"):
        _criu._locate()


@pytest.mark.usefixtures("root")
def test_a_chosen_criu_whose_check_fails_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_SANDBOX_CRIU", str(_fake_criu(tmp_path, "4.2.1", check_status=1)))
    with pytest.raises(SnapshotUnavailableError, match="'criu check' failed: check said 1"):
        _criu._locate()


@pytest.mark.usefixtures("root")
def test_a_chosen_criu_4_2_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_criu(tmp_path, "4.2.1")
    monkeypatch.setenv("LAMBDA_SANDBOX_CRIU", str(fake))
    found = _criu._locate()
    assert found.command == (str(fake),)
    assert found.version == "4.2.1"


@pytest.mark.usefixtures("root")
def test_a_system_criu_too_old_falls_back_to_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAMBDA_SANDBOX_CRIU", raising=False)
    monkeypatch.setenv("PATH", f"{_fake_criu(tmp_path, '3.17.1').parent}:{os.environ['PATH']}")
    (tmp_path / "cache").mkdir()
    downloaded = _fake_criu(tmp_path / "cache", "4.2.1")
    monkeypatch.setattr(_criu, "_cached_download", lambda: (str(downloaded),))
    assert _criu._locate().command == (str(downloaded),)
