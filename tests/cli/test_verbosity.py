"""zhaug --quiet prints errors and warnings only; --verbose adds a traceback to an error; every
command's help shows an example."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from zhaug.cli import app
from zhaug.cli.options import QUIET, VERBOSE, say


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text,label\nr0,这家酒店的服务非常好，下次还来。,1\nr1,快递太慢了，包装也破了。,0\n", encoding="utf-8")
    return path


def zhaug(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (QUIET, VERBOSE)}
    return subprocess.run([sys.executable, "-c", "from zhaug.cli import run; run()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_quiet_prints_nothing_but_errors(table, tmp_path):
    loud = zhaug("augment", str(table), "-o", str(tmp_path / "a.csv"), "-r", "noise")
    hushed = zhaug("--quiet", "augment", str(table), "-o", str(tmp_path / "b.csv"), "-r", "noise")
    assert loud.returncode == hushed.returncode == 0
    assert "wrote" in loud.stderr and hushed.stderr == ""
    assert (tmp_path / "a.csv").read_text("utf-8") == (tmp_path / "b.csv").read_text("utf-8")
    failed = zhaug("-q", "augment", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "c.csv"))
    assert failed.returncode == 2 and failed.stderr.startswith("error:")


def test_verbose_adds_the_traceback_of_an_error(tmp_path):
    plain = zhaug("augment", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "c.csv"))
    detailed = zhaug("--verbose", "augment", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "c.csv"))
    assert plain.returncode == detailed.returncode == 2
    assert "Traceback" not in plain.stderr and "Traceback" in detailed.stderr
    assert zhaug("-q", "-v", "--help").returncode == 0  # help is eager
    assert zhaug("-q", "-v", "augment", "x.csv", "-o", "y.csv").returncode == 2


def test_say_keeps_warnings_under_quiet(monkeypatch, capsys):
    monkeypatch.setenv(QUIET, "1")
    say("wrote x")
    say("warning: y")
    assert capsys.readouterr().err == "warning: y\n"


@pytest.mark.parametrize("command", ["augment", "gate", "train", "predict", "audit", "demo", "ablate"])
def test_every_command_help_shows_an_example(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and f"zhaug {command}" in result.output and "Example" in result.output
