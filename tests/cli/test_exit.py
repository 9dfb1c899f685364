"""The console script's exit: status codes, output kept, atexit handlers, threads.

``hubtools.cli.run`` ends the process with ``os._exit`` after the command (see
its docstring); these tests run real processes to prove nothing is lost on
the way out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INVALID = ROOT / "fixtures" / "manifests" / "invalid" / "duplicate-model.json"


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    # Block-buffered output, as on most machines: unbuffered, a missing flush
    # before the hard exit would go unseen.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, cwd=ROOT, env=env
    )


def test_problems_exit_1_with_every_line_written_to_a_pipe() -> None:
    out = _python("-m", "hubtools", "validate", str(INVALID))
    assert out.returncode == 1
    assert out.stdout == (
        f"{INVALID}:45:18: error duplicate-model /1/model: model 'mnist-12' with opset 12 is"
        " already listed at /0 (names match case-insensitively) (fix: rename one of them or"
        " remove the duplicate entry)\n"
    )
    assert out.stderr == "invalid: 1 error, 0 warnings; checked 2 entries\n"


def test_long_output_to_a_pipe_is_flushed_whole(tmp_path: Path) -> None:
    # 1,738 lines: far more than one pipe buffer, so a missing flush would cut it.
    archive = ("--repo", "onnx/models:archive", "--cache-dir", str(tmp_path))
    out = _python("-m", "hubtools", "list", *archive)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1 + 1738
    assert out.stderr.endswith("1738 model(s)\n")


def test_unreadable_input_exits_2_and_usage_errors_exit_2() -> None:
    missing = _python("-m", "hubtools", "validate", "no-such-file.json")
    assert missing.returncode == 2
    assert "no-such-file.json: no such file" in missing.stderr
    usage = _python("-m", "hubtools", "--no-such-option")
    assert usage.returncode == 2
    assert "No such option '--no-such-option'" in usage.stderr


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [
        ("sys.exit(None)", 0, ""),
        ("sys.exit(3)", 3, ""),
        ("sys.exit('bad thing')", 1, "bad thing\n"),
    ],
)
def test_exit_status_is_what_python_would_give(code: str, status: int, stderr: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import hubtools.cli.group as cli
        def main(argv=None):
            {code}
        cli.main = main
        cli.run()
        """
    )
    out = _python("-c", script)
    assert (out.returncode, out.stderr) == (status, stderr)


def test_atexit_handlers_run_and_their_output_is_kept() -> None:
    script = textwrap.dedent(
        f"""
        import atexit, sys
        atexit.register(print, "atexit ran")
        sys.argv = ["hubtools", "validate", {str(INVALID)!r}]
        from hubtools.cli import run
        run()
        """
    )
    out = _python("-c", script)
    assert out.returncode == 1
    assert out.stdout.endswith("remove the duplicate entry)\natexit ran\n")


def test_a_running_thread_is_waited_for() -> None:
    script = textwrap.dedent(
        f"""
        import sys, threading, time
        def late():
            time.sleep(0.3)
            print("thread finished", flush=True)
        threading.Thread(target=late).start()
        sys.argv = ["hubtools", "validate", {str(INVALID)!r}]
        from hubtools.cli import run
        run()
        """
    )
    out = _python("-c", script)
    assert out.returncode == 1
    assert out.stdout.endswith("thread finished\n")


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("4", "4")])
def test_openblas_gets_one_thread_unless_the_user_chose(given: str | None, seen: str) -> None:
    script = textwrap.dedent(
        """
        import os
        import hubtools.cli.group as cli
        def main(argv=None):
            print(os.environ["OPENBLAS_NUM_THREADS"])
        cli.main = main
        cli.run()
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout == f"{seen}\n"


def _subclasses(kind: type[BaseException]) -> list[type[BaseException]]:
    return [kind, *(sub for direct in kind.__subclasses__() for sub in _subclasses(direct))]


def test_every_hubtools_error_exits_2() -> None:
    from hubtools.cli.group import EXIT_CODES, EXIT_ERROR, exit_code
    from hubtools.errors import HubtoolsError

    kinds = _subclasses(HubtoolsError)
    assert len(kinds) > 10
    for kind in kinds:
        assert exit_code(kind("x")) == EXIT_ERROR, kind
    assert list(EXIT_CODES) == [HubtoolsError]
