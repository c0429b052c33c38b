"""README.md's conformance commands for the example drivers, run as written there.

The commands are read from README.md (the indented block after each `<!-- conformance:NAME -->`
marker) and run through /bin/sh from the checkout root, exactly, but for the --out directory
(a temporary one here; README's is under /tmp). The realistic run of the correct driver takes
about four minutes: the test runs README's quick variant of it, and checks that the two
differ only by the quick options. The naive driver's command runs on the baseline cell only
(one more --scenarios option after README's, which the last one wins).
"""
import json
import os
import re
import shlex
import subprocess

from modemsim import BINARY, ROOT

README = os.path.join(ROOT, "README.md")
QUICK = "--timing fast --modemsim-arg=--time-scale=0.1"


def command(name):
    with open(README) as f:
        text = f.read()
    m = re.search(r"<!-- conformance:%s -->\n((?:    .*\n)+)" % re.escape(name), text)
    assert m, "README.md has no conformance:%s block" % name
    return "".join(line[4:] for line in m.group(1).splitlines(True)).strip()


def scenario_model(name):
    """The model a bundled scenario names (None: any model, and the baseline)."""
    path = os.path.join(ROOT, "scenarios", name + ".scn")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        m = re.search(r"^model (\S+)", f.read(), re.M)
    return m.group(1) if m else None


def run(cmd, out, timeout):
    cmd, n = re.subn(r"--out \S+", "--out " + shlex.quote(str(out)), cmd)
    assert n == 1, cmd
    return subprocess.run(["/bin/sh", "-c", cmd], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, MODEMSIM_BIN=BINARY))


def words(cmd):
    return shlex.split(cmd.replace("\\\n", " "))


def test_readme_correct_driver_passes_or_expectedly_fails_every_cell(tmp_path):
    full, quick = command("correct"), command("correct-quick")
    assert words(quick) == words(full)[:6] + words(QUICK) + words(full)[6:], \
        "the quick command is the full one with %s after --timeout" % QUICK
    assert "{ca} --cert {cert} --key {key}" in full and "/usr/bin/python3 harness/" in full
    res = run(quick, tmp_path / "out", 600)
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    assert res.stdout.splitlines()[-1].startswith(
        "9 passed, 0 failed, 0 errors, 9 skipped, 1 failed as expected; report: "), text
    with open(tmp_path / "out" / "report.json") as f:
        rep = json.load(f)
    scenarios = sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, "scenarios"))
                       if f.endswith(".scn"))
    assert rep["scenarios"] == ["baseline"] + scenarios
    got = {c["scenario"]: c["status"] for c in rep["cells"]}
    for name, status in got.items():
        if scenario_model(name) not in (None, "ec25"):
            assert status == "skip", (name, status)
        elif name == "ec25-aws-untrusted-ca":
            assert status == "xfail", (name, status)
        else:
            assert status == "pass", (name, status)
    c = next(c for c in rep["cells"] if c["scenario"] == "ec25-aws-untrusted-ca")
    assert "server certificate not trusted: unknown CA" in c["cause"]["text"], c["cause"]
    # Every pass was checked: the driver talked to the modem, its message reached the broker.
    assert not any(c.get("flags") for c in rep["cells"]), rep["cells"]


def test_readme_naive_driver_fails_on_its_findings(tmp_path):
    cmd = command("naive") + " --scenarios baseline"
    assert "/usr/bin/python3 harness/examples/naive_driver.py {tty} --ca {ca}" in cmd
    res = run(cmd, tmp_path / "out", 300)
    assert res.returncode == 1, res.stdout + res.stderr
    with open(tmp_path / "out" / "report.json") as f:
        [c] = json.load(f)["cells"]
    assert c["id"] == "ec25-baseline" and c["status"] == "fail"
    kinds = {f["kind"] for f in c["findings"] if f["severity"] == "error"}
    assert {"cmd-before-result", "non-ascii", "data-before-prompt"} <= kinds, kinds
    assert any(r.startswith("finding error ") for r in c["reasons"])
