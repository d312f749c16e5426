"""The `runs` and `lineage` commands' registration and their errors, without a pipeline run."""

import os
import subprocess
import sys

import mlpipe  # noqa: F401


def _mlpipe(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlpipe", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_help_lists_the_audit_commands_without_importing_ml_metadata():
    code = ("import sys; from mlpipe import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', [m for m in ('ml_metadata', 'tensorflow', 'tfx') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    commands = result.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert {"runs", "lineage"} <= set(commands)


def test_no_run_home_is_an_input_error(tmp_path):
    for args in (["runs"], ["runs", "--json"], ["lineage", "123"]):
        result = _mlpipe(*args, "--home", tmp_path / "nowhere", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and "no pipeline run found" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_lineage_needs_exactly_one_target(tmp_path):
    both = _mlpipe("lineage", "123", "--data", "x.csv", "--home", tmp_path, cwd=tmp_path)
    assert both.returncode == 2 and "one of the two" in both.stderr
