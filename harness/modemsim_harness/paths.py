"""Where modemsim's files are, for a harness used from its checkout or installed elsewhere.

Installed with `pip install ./harness`, the package remembers the checkout it was built from
(_origin.py, written at build time); running from the checkout (`pythonpath = harness`), it is
two directories up. Without a checkout (a wheel copied elsewhere), the files come from an
installed modemsim: `modemsim` on PATH and its `share/modemsim` (`cmake --install`).

  BINARY     $MODEMSIM_BIN, else <checkout>/build/sim/modemsim, else `modemsim` on PATH
  SCENARIOS  the bundled scenarios: <checkout>/scenarios or <prefix>/share/modemsim/scenarios
  GEN_SH     the PKI generator: <checkout>/certs/gen.sh or <prefix>/share/modemsim/certs/gen.sh
  pki_dir()  $MODEMSIM_PKI_DIR, else a cache directory keyed by gen.sh's content (never in
             the checkout): $XDG_CACHE_HOME/modemsim or ~/.cache/modemsim, else the system's
             temporary directory when those cannot be written
"""
import hashlib
import os
import shutil
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _is_checkout(d):
    return bool(d) and os.path.isfile(os.path.join(d, "sim", "main.c")) and \
        os.path.isdir(os.path.join(d, "scenarios"))


def _checkout():
    up = os.path.dirname(os.path.dirname(HERE))
    if _is_checkout(up):
        return up
    try:
        from ._origin import CHECKOUT as origin
    except ImportError:
        return None
    return origin if _is_checkout(origin) else None


CHECKOUT = _checkout()


def _binary():
    env = os.environ.get("MODEMSIM_BIN")
    if env:
        return env
    if CHECKOUT:
        return os.path.join(CHECKOUT, "build", "sim", "modemsim")
    return shutil.which("modemsim") or "modemsim"


BINARY = _binary()


def _share():
    """<prefix>/share/modemsim of an installed binary (bin/modemsim), or None."""
    real = shutil.which(BINARY) if os.sep not in BINARY else BINARY
    if not real:
        return None
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(real)))
    d = os.path.join(prefix, "share", "modemsim")
    return d if os.path.isdir(d) else None


def _find(*rel):
    for base in (CHECKOUT, _share()):
        if base and os.path.exists(os.path.join(base, *rel)):
            return os.path.join(base, *rel)
    return os.path.join(CHECKOUT or _share() or ".", *rel)


SCENARIOS = _find("scenarios")
GEN_SH = _find("certs", "gen.sh")


def pki_dir():
    """The test PKI's directory (created on first use, not on import)."""
    env = os.environ.get("MODEMSIM_PKI_DIR")
    if env:
        return env
    try:
        with open(GEN_SH, "rb") as f:
            key = hashlib.sha1(f.read()).hexdigest()[:12]
    except OSError:
        key = "none"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for base in (os.path.join(cache, "modemsim"),
                 os.path.join(tempfile.gettempdir(), "modemsim-%d" % os.getuid())):
        try:
            os.makedirs(base, exist_ok=True)
        except OSError:
            continue
        if os.access(base, os.W_OK):
            return os.path.join(base, "pki-" + key)
    raise RuntimeError("no writable cache directory for the test PKI: set MODEMSIM_PKI_DIR")

