"""`cmake --install` (issue 12): the binary, its man page made from --help, the bundled scenarios
and certs/gen.sh, under DESTDIR and a prefix; the installed binary finds gen.sh under
<prefix>/share/modemsim and makes its PKI in the user's cache, so its embedded broker has TLS.
"""
import glob
import os
import shutil
import subprocess

import pytest

from modemsim import BINARY, ROOT

BUILD = os.path.dirname(os.path.dirname(BINARY))


def test_install_into_destdir(tmp_path):
    if not os.path.isfile(os.path.join(BUILD, "cmake_install.cmake")):
        pytest.skip("MODEMSIM_BIN is not in a CMake build tree")
    dest = tmp_path / "dest"
    res = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/opt/modemsim"],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, DESTDIR=str(dest)))
    assert res.returncode == 0, res.stdout + res.stderr
    prefix = str(dest) + "/opt/modemsim"
    exe = os.path.join(prefix, "bin", "modemsim")
    assert os.access(exe, os.X_OK)
    gen = os.path.join(prefix, "share", "modemsim", "certs", "gen.sh")
    assert os.access(gen, os.X_OK)
    with open(gen, "rb") as a, open(os.path.join(ROOT, "certs", "gen.sh"), "rb") as b:
        assert a.read() == b.read()
    scns = sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(prefix, "share", "modemsim", "scenarios", "*.scn")))
    assert scns and scns == sorted(os.path.basename(p) for p in
                                   glob.glob(os.path.join(ROOT, "scenarios", "*.scn")))
    assert os.path.isfile(os.path.join(prefix, "share", "modemsim", "scenarios", "README.md"))

    # The man page is --help, as roff: every option of --help is in it.
    man = open(os.path.join(prefix, "share", "man", "man1", "modemsim.1")).read()
    assert man.startswith('.\\" Generated from') and ".TH MODEMSIM 1" in man
    helptext = subprocess.run([BINARY, "--help"], capture_output=True, text=True).stdout
    for word in helptext.split():
        if word.startswith("--") and word[2:3].isalpha():
            assert word.replace("-", "\\-") in man, word
    if shutil.which("man"):
        res = subprocess.run(["man", "-l", os.path.join(prefix, "share", "man", "man1",
                                                        "modemsim.1")],
                             capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING=""))
        assert res.returncode == 0 and "--check FILE" in res.stdout, res.stderr


def test_installed_binary_makes_its_pki_in_the_cache(tmp_path):
    """Installed elsewhere (a copy of bin/ and share/), the embedded broker gets its TLS
    listeners from gen.sh under share/modemsim, into $XDG_CACHE_HOME/modemsim/certs."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "share" / "modemsim" / "certs").mkdir(parents=True)
    shutil.copy(BINARY, str(prefix / "bin" / "modemsim"))
    shutil.copy(os.path.join(ROOT, "certs", "gen.sh"),
                str(prefix / "share" / "modemsim" / "certs" / "gen.sh"))
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    p = subprocess.Popen([str(prefix / "bin" / "modemsim"), "--timing", "fast"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in p.stdout:
            lines.append(line.strip())
            if line.strip() == "ready":
                break
        broker = [l for l in lines if l.startswith("broker ")]
        assert broker and "-" not in broker[0].split()[2:], lines
        assert broker[0].split()[4] == str(cache / "modemsim" / "certs" / "ca.pem")
        assert os.path.isfile(str(cache / "modemsim" / "certs" / "server.pem"))
    finally:
        p.terminate()
        out, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
