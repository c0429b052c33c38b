"""The harness as a user installs it (issue 12): `pip install ./harness` offline with Debian's pip
and setuptools into a virtual environment that sees the system's packages, then a suite outside
the checkout gets the fixtures with no PYTHONPATH and no -p; its own control.py and report.py
are its own; importing the package edits no sys.path; the PKI goes to a cache directory.
"""
import os
import subprocess
import sys

import pytest

from modemsim import BINARY, ROOT

PYTHON = "/usr/bin/python3"  # Debian's: pip, setuptools, pytest, paho-mqtt as packages

USER_TEST = '''
import control
import report


def test_own_modules_are_not_shadowed():
    assert (control.WHO, report.WHO) == ("user", "user")


def test_modem_and_control(modem, control):
    control.ok("signal 8 3")
    modem.ok("AT+CSQ", "+CSQ: 8,3")


@pytest.mark.modem(model="m95")
def test_marker_and_broker(modem, subscriber):
    sub = subscriber("pkg/#")
    for line in ("AT+QIFGCNT=0", 'AT+QICSGP=1,"CMNET"', "AT+QIREGAPP", "AT+QIACT"):
        modem.ok(line)
    modem.ok('AT+QMTOPEN=0,"%s",1883' % modem.host)
    modem.urc("+QMTOPEN: 0,0")
    modem.ok('AT+QMTCONN=0,"pkg"')
    modem.urc("+QMTCONN: 0,0,0")
    modem.prompt('AT+QMTPUB=0,0,0,0,"pkg/1"')
    modem.data("hi")
    assert sub.wait_for(lambda m: m.topic == "pkg/1").payload == b"hi"
'''


def run(args, **kw):
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    assert res.returncode == 0, "%s: %s%s" % (args, res.stdout, res.stderr)
    return res


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv with --system-site-packages and the harness installed the README's way."""
    d = tmp_path_factory.mktemp("venv")
    run([PYTHON, "-m", "venv", "--without-pip", "--system-site-packages", str(d)])
    py = str(d / "bin" / "python")
    run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-cache-dir",
         os.path.join(ROOT, "harness")], cwd=str(d))
    return py


def clean_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.pop("MODEMSIM_PKI_DIR", None)
    env.update(MODEMSIM_BIN=BINARY, XDG_CACHE_HOME=str(tmp_path / "cache"))
    return env


def test_fixtures_in_a_suite_outside_the_checkout(venv, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "control.py").write_text('WHO = "user"\n')
    (proj / "report.py").write_text('WHO = "user"\n')
    (proj / "test_user.py").write_text("import pytest\n" + USER_TEST)
    res = subprocess.run([venv, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=str(proj),
                         capture_output=True, text=True, timeout=120, env=clean_env(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 passed" in res.stdout
    # The default PKI went to the cache directory, keyed by gen.sh; nothing into the checkout.
    cache = tmp_path / "cache" / "modemsim"
    assert [p.name for p in cache.iterdir() if p.is_dir()][0].startswith("pki-")
    assert os.path.isfile(next(p for p in cache.iterdir() if p.is_dir()) / "ca.pem")


def test_import_edits_no_sys_path_and_finds_the_checkout(venv, tmp_path):
    code = ("import sys; before = list(sys.path)\n"
            "import modemsim_harness.plugin, modemsim_harness.conformance, modemsim_harness.report\n"
            "from modemsim_harness import paths\n"
            "assert sys.path == before, (before, sys.path)\n"
            "assert 'plugin' not in sys.modules and 'control' not in sys.modules\n"
            "assert not paths.pki_dir().startswith(paths.CHECKOUT)\n"
            "print(paths.CHECKOUT, paths.SCENARIOS, paths.GEN_SH)\n")
    env = clean_env(tmp_path)
    del env["MODEMSIM_BIN"]
    res = run([venv, "-c", code], cwd=str(tmp_path), env=env)
    assert res.stdout.split() == [ROOT, os.path.join(ROOT, "scenarios"),
                                  os.path.join(ROOT, "certs", "gen.sh")]
    # The console scripts and `python -m` entry points of the runner and the report.
    res = subprocess.run([os.path.join(os.path.dirname(venv), "modemsim-conformance"),
                          "--help"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "--driver" in res.stdout, res.stderr


def test_checkout_keeps_the_old_names():
    """This repository's tests import the old top-level names: each is the packaged module."""
    import control
    import modemsim
    import plugin
    import modemsim_harness.control
    import modemsim_harness.modemsim
    import modemsim_harness.plugin
    assert control is modemsim_harness.control and modemsim is modemsim_harness.modemsim
    assert plugin is modemsim_harness.plugin
    assert sys.modules["fakebroker"].Timeout is modemsim.Timeout
