"""The command line under hostile use (issue 10): reports that must reach their file, options that
must be refused before any input is read, one-line usage errors, --version/-h, help that copies.

Every failure here must be one line on stderr starting "traceparse: ", exit status 2, no traceback.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, run_cli

PERF = FIXTURES / "perf-block.txt"
NET = FIXTURES / "net" / "net-iperf-lo.perf.txt"
SMALL = FIXTURES / "tracedat" / "blk.report-t.txt.xz"  # small, but the bar starts at once with the threshold at 0
HANG_GUARD_S = 30  # not a timing assertion: a check that waits for input would block on a fifo forever


def one_line_error(proc, *needles) -> str:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("traceparse: "), lines[0]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def cli(*args, **kw):
    """The command as a subprocess, bytes in and out; ``kw`` goes to subprocess.run."""
    if "stdout" not in kw and "stderr" not in kw:
        kw["capture_output"] = True
    kw.setdefault("timeout", HANG_GUARD_S)
    return subprocess.run([sys.executable, "-m", "traceparse", *map(str, args)], cwd=ROOT, **kw)


def command_names() -> list[str]:
    from traceparse.cli import app

    return sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def inputs_for(cmd: str, path) -> list:
    return [path, path] if cmd == "diff" else [path]


def fixture_for(cmd: str):
    return NET if cmd == "net" else PERF


# -- 1. the report reaches a redirected stdout while the bar draws on the terminal ----------------


def under_terminal(shell_cmd: str) -> bytes:
    """Run ``shell_cmd`` with a pseudo terminal on stdin/stdout/stderr (util-linux ``script``);
    returns what reached the terminal."""
    proc = subprocess.run(
        ["script", "-q", "-e", "-c", shell_cmd, "/dev/null"],
        stdin=subprocess.DEVNULL, capture_output=True, cwd=ROOT, timeout=HANG_GUARD_S,
        env={**os.environ, "TRACEPARSE_PROGRESS_AFTER_S": "0", "TERM": "xterm"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux `script` for a pseudo terminal")
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_report_goes_to_redirected_stdout_while_the_bar_draws(tmp_path, how):
    out = tmp_path / "out.json"
    src = shlex.quote(str(SMALL))
    arg = src if how == "file" else f"- < {src}"
    terminal = under_terminal(f"{shlex.quote(sys.executable)} -m traceparse block {arg} -f json > {shlex.quote(str(out))}")
    expected = json.loads(run_cli("block", SMALL, "-f", "json").stdout)  # no terminal: no bar
    if how == "stdin":
        expected["source"]["path"] = "<stdin>"
    assert json.loads(out.read_text()) == expected
    assert "━" in terminal.decode(errors="replace"), terminal  # the bar did draw (rich's bar glyph)
    assert b'"latency"' not in terminal and b"report" not in terminal, terminal


class FakeBar:
    def __init__(self, started: list):
        started.append(self)
        self.stopped = False

    def update(self, task, completed, total):
        assert not self.stopped

    def stop(self):
        self.stopped = True


@pytest.fixture
def bars(monkeypatch):
    """Bars the CLI would draw, on a pretend terminal."""
    from traceparse import cli

    started: list[FakeBar] = []
    monkeypatch.setattr(cli, "_live", [])  # not the bars other tests left behind
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(cli, "_bar", lambda: (FakeBar(started), 0))
    yield started
    cli.stop_progress()


def test_progress_threshold_comes_from_the_environment(monkeypatch, bars):
    from traceparse import cli

    monkeypatch.setenv("TRACEPARSE_PROGRESS_AFTER_S", "0")
    cli.progress_for("x")(1, 10)
    assert len(bars) == 1
    monkeypatch.setenv("TRACEPARSE_PROGRESS_AFTER_S", "3600")
    cli.progress_for("x")(1, 10)
    assert len(bars) == 1


def test_no_bar_starts_once_the_report_is_being_written(monkeypatch, bars):
    """The parser thread runs a chunk ahead: its last callbacks may come after the main thread has
    stopped the bar to write the report, and must not draw a new one over it."""
    from traceparse import cli

    monkeypatch.setenv("TRACEPARSE_PROGRESS_AFTER_S", "0")
    late, drawn = cli.progress_for("x"), cli.progress_for("y")
    drawn(1, 10)
    cli.stop_progress()
    late(5, 10)
    drawn(6, 10)
    assert len(bars) == 1 and bars[0].stopped


# -- 2. -o targets that cannot take the report, and a closed stdout --------------------------------


def target(tmp_path, kind: str):
    if kind == "directory":
        return tmp_path
    if kind == "missing folder":
        return tmp_path / "no" / "such" / "folder" / "r.txt"
    if kind == "read-only file":
        if os.geteuid() == 0:
            pytest.skip("root writes a mode 0444 file anyway: the refusal is covered by /proc/version and /dev/full")
        path = tmp_path / "ro.txt"
        path.write_text("keep me\n")
        path.chmod(0o444)
        return path
    return {"/dev/full": "/dev/full", "a file refusing writes": "/proc/version"}[kind]


OUT_KINDS = ["directory", "missing folder", "/dev/full", "a file refusing writes", "read-only file"]


@pytest.mark.parametrize("kind", OUT_KINDS)
@pytest.mark.parametrize("cmd", ["block", "net", "diff", "info"])
def test_output_target_that_cannot_be_written(tmp_path, cmd, kind):
    out = target(tmp_path, kind)
    line = one_line_error(cli(cmd, *inputs_for(cmd, fixture_for(cmd)), "-o", out))
    assert str(out) in line
    if kind == "read-only file":
        assert out.read_text() == "keep me\n"


@pytest.mark.parametrize("cmd", ["block", "net", "diff", "info"])
def test_closed_stdout_is_one_line(cmd):
    proc = cli(cmd, *inputs_for(cmd, fixture_for(cmd)), preexec_fn=lambda: os.close(1), stdout=None, stderr=subprocess.PIPE)
    one_line_error(proc, "stdout")


def test_stdout_on_a_full_disk_is_one_line():
    with open("/dev/full", "wb") as full:
        proc = cli("info", PERF, stdout=full, stderr=subprocess.PIPE)
    one_line_error(proc, "stdout")


def test_an_existing_report_is_not_clobbered_when_the_input_is_bad(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("last week's report\n")
    bad = tmp_path / "prose.txt"
    bad.write_text("Dear team,\nthe disk is slow.\n")
    one_line_error(cli("block", bad, "-f", "json", "-o", out))
    assert out.read_text() == "last week's report\n"


# -- 3 and 8. options refused before any input is read ---------------------------------------------


BAD_OPTIONS = {
    "block": [
        ["-f", "bad"], ["--format", "JSON5"], ["-o", "{dir}"], ["-o", "{missing}"],
        ["--unit", "fortnight"], ["--top", "-3"], ["--top", "abc"], ["--top", "99999999999999999999999"],
        ["--since", "nan"], ["--until", "inf"], ["--since", "-inf"], ["--since", "abc"], ["--until", "1e300"],
        ["--since", "-1e300"],
        ["--since", "2", "--until", "1"], ["--since", "1", "--until", "1"],
        ["--slower-than", "-1ms"], ["--slower-than", "10xs"], ["--slower-than", "9" * 400],
        ["--slower-than", "1e999"], ["--dev", "sda"], ["--op", "X"], ["--bogus"], ["--top"],
    ],
    "net": [
        ["-f", "bad"], ["-o", "{dir}"], ["-o", "{missing}"],
        ["--interval", "0"], ["--interval", "abc"], ["--interval", "0ms"], ["--interval", "-1s"],
        ["--interval", "9" * 400], ["--interval", "99999999999999999999s"],
        ["--slower-than", "-1ms"], ["--slower-than", "nan"], ["--top", "-3"], ["--top", "x"],
        ["--unit", "s"], ["--unit", "parsec"], ["--bogus"],
    ],
    "diff": [
        ["-f", "bad"], ["-o", "{dir}"], ["-o", "{missing}"],
        ["--map", "junk"], ["--map", "=="], ["--fail-on", "junk"], ["--fail-on", "d2c.p99>+abc%"],
        ["--fail-on", "d2c.p99>"], ["--report", "cpu"], ["--unit", "fortnight"], ["--bogus"],
    ],
    "info": [["-f", "bad"], ["-o", "{dir}"], ["-o", "{missing}"], ["--bogus"], ["--strict", "yes"]],
}
TABLE = [(cmd, opts) for cmd, rows in BAD_OPTIONS.items() for opts in rows]


@pytest.fixture
def fifo(tmp_path):
    """An input nobody ever writes to: whatever tries to read it waits forever."""
    path = tmp_path / "never.fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("cmd,opts", TABLE, ids=[f"{c}:{' '.join(o)[:40]}" for c, o in TABLE])
def test_bad_option_is_refused_before_the_input_is_read(tmp_path, fifo, cmd, opts):
    fill = {"{dir}": str(tmp_path), "{missing}": str(tmp_path / "nope" / "r.txt")}
    args = [fill.get(o, o) for o in opts]
    try:
        proc = cli(cmd, *inputs_for(cmd, fifo), *args)
    except subprocess.TimeoutExpired:
        pytest.fail(f"traceparse {cmd} {' '.join(args)} waited for its input instead of refusing the option")
    one_line_error(proc)


@pytest.mark.parametrize("cmd,opts", [("block", ["-f", "bad"]), ("block", ["--until", "inf"]), ("net", ["--interval", "0"]),
                                      ("info", ["-f", "bad"]), ("block", ["-o", "/no/such/folder/r.json"])])
def test_bad_option_on_stdin_that_never_ends(cmd, opts):
    """stdin is a pipe we hold open and never write: the option must be refused without reading it."""
    read_end, write_end = os.pipe()
    try:
        proc = cli(cmd, *inputs_for(cmd, "-"), *opts, stdin=read_end)
    except subprocess.TimeoutExpired:
        pytest.fail(f"traceparse {cmd} - {' '.join(opts)} waited for stdin instead of refusing the option")
    finally:
        os.close(read_end)
        os.close(write_end)
    one_line_error(proc)


def test_window_and_number_errors_name_the_option(fifo):
    assert "--top" in one_line_error(cli("block", fifo, "--top", "-3"))
    assert "--since" in one_line_error(cli("block", fifo, "--since", "nan"))
    assert "--until" in one_line_error(cli("block", fifo, "--until", "inf"))
    line = one_line_error(cli("block", fifo, "--since", "2", "--until", "1"))
    assert "--since" in line and "--until" in line


def test_good_window_still_reads():
    data = json.loads(cli("block", PERF, "-f", "json", "--since", "0", "--until", "1e6").stdout)
    assert data["latency"]["d2c"]["total"]["count"] > 0


# -- 4. usage errors in one line -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,needle",
    [
        (["block"], "block: Missing argument"),
        (["block", PERF, "--bogus"], "block: No such option: --bogus"),
        (["block", PERF, "--top", "abc"], "block: Invalid value for '--top'"),
        (["net", NET, "-i"], "net: Option '-i' requires an argument"),
        (["diff", PERF], "diff: Missing argument"),
        (["nosuch"], "No such command 'nosuch'"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_error_is_one_line(args, needle):
    line = one_line_error(cli(*args), needle)
    assert "Usage:" not in line and "Try " not in line


# -- 5. --version and -h ---------------------------------------------------------------------------


def test_version():
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.decode() == f"traceparse {version}\n" and not proc.stderr


@pytest.mark.parametrize("cmd", [None, *command_names()])
def test_dash_h_is_help(cmd):
    args = [cmd] if cmd else []
    short, long = cli(*args, "-h"), cli(*args, "--help")
    assert short.returncode == long.returncode == 0
    assert short.stdout == long.stdout and b"Usage:" in short.stdout and b"-h, --help" in short.stdout


# -- 6. the library surface ------------------------------------------------------------------------


def test_package_exports_the_whole_api():
    import inspect

    import traceparse
    import traceparse.api as api

    public = {n for n, v in vars(api).items() if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
              and v.__module__ == api.__name__}
    assert {"open", "block", "net", "info", "diff", "render_report", "Capture"} <= public
    assert public | {"TraceParseError", "__version__"} <= set(traceparse.__all__)
    for name in traceparse.__all__:
        assert getattr(traceparse, name) is not None
    assert traceparse.diff is api.diff
    assert set(traceparse.__all__) <= set(dir(traceparse))


def test_import_stays_lazy():
    code = "import sys, traceparse, traceparse.reports.result; print(sorted(m for m in sys.modules if m.startswith('traceparse')))"
    mods = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT).stdout.decode().replace("'", '"'))
    assert not any(m.startswith(("traceparse.render", "traceparse.api", "traceparse.cli")) for m in mods), mods


def test_report_shows_itself_as_html_in_jupyter():
    from traceparse.reports.result import Column, Report, Table

    rep = Report(kind="info", title="disk <sda> & co", unit="us", warnings=["lost 3 events"],
                 tables=[Table("t", "Events", [Column("event", "event"), Column("n", "count", "count")],
                               [{"event": "block:block_rq_issue", "n": 1234}])])
    html = rep._repr_html_()
    assert "disk &lt;sda&gt; &amp; co" in html and "<table" in html and "block:block_rq_issue" in html
    assert "lost 3 events" in html
    import traceparse

    assert html == traceparse.render_report(rep, "html")


# -- 7. help examples survive 80 columns -----------------------------------------------------------


@pytest.mark.parametrize("cmd", command_names())
def test_help_examples_are_not_rewrapped(cmd):
    from traceparse.cli import app

    epilog = next(c.epilog for c in app.registered_commands if (c.name or c.callback.__name__) == cmd)
    examples = [l.strip() for l in epilog.splitlines() if l.strip().startswith(("traceparse ", "perf "))]
    assert examples
    proc = cli(cmd, "--help", env={**os.environ, "COLUMNS": "80"})
    shown = {l.strip() for l in proc.stdout.decode().splitlines()}
    missing = [e for e in examples if e not in shown]
    assert not missing, missing
