"""The state directory (--state) keeps every byte of the modem's files inside it (issue 10 item
8): a drive directory, the modem's own directory or its tmp directory that is a symbolic link
(or not a directory at all) is never written through.

- Found at start-up: modemsim names the path on stderr ("modemsim: error: ...") and exits 2
  before it announces anything, as for a bad option; the link is left as it is.
- Made while modemsim runs: every write that would go through it fails as a disk failure does
  (EC25 +CME ERROR: 409 for +QFUPL/+QFWRITE/+QFOPEN, 418 for +QFDEL; M95 +CME ERROR: 23 under
  AT+CMEE=1), the file in memory stays as it was, and a log line names the path. RAM: is not
  affected."""
import os
import subprocess

import pytest

from modemsim import BINARY, FINAL_RE
from modemsim_harness.at import connect, qfupl, qsecwrite


def tree(path):
    """Every entry under path, relative to it (directories with a trailing /)."""
    out = []
    for d, dirs, files in os.walk(path):
        rel = os.path.relpath(d, path)
        out += [os.path.normpath(os.path.join(rel, x)) + "/" for x in dirs]
        out += [os.path.normpath(os.path.join(rel, x)) for x in files]
    return sorted(out)


@pytest.fixture
def outside(tmp_path):
    """A directory outside the state directory, holding one file a link could expose."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "a.txt").write_bytes(b"keep")
    return d


# ---- found at start-up ----

@pytest.mark.parametrize("model,rel", [
    ("ec25", "0/UFS"),
    ("ec25", "0/tmp"),
    ("ec25", "0"),
    ("m95", "0/NVRAM"),
    ("m95", "0"),
])
def test_link_in_state_dir_refused_at_start(tmp_path, outside, model, rel):
    state = tmp_path / "state"
    link = state / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    r = subprocess.run([BINARY, "--model", model, "--state", str(state), "--broker", "none"],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    first = r.stderr.splitlines()[0]
    assert first.startswith("modemsim:") and str(link) in first and "symbolic link" in first, \
        r.stderr
    assert os.path.islink(str(link))
    assert tree(str(outside)) == ["a.txt"]
    assert (outside / "a.txt").read_bytes() == b"keep"


def test_file_in_place_of_drive_dir_refused_at_start(tmp_path):
    state = tmp_path / "state"
    (state / "0").mkdir(parents=True)
    (state / "0" / "UFS").write_bytes(b"not a directory")
    r = subprocess.run([BINARY, "--state", str(state), "--broker", "none"],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("modemsim:") and str(state / "0" / "UFS") in first
    assert "not a directory" in first, r.stderr


def test_link_for_a_drive_the_model_lacks_is_ignored(modemsim, tmp_path, outside):
    # An EC25 has no NVRAM: drive: a link there is never used, so it is no reason to refuse.
    state = tmp_path / "state"
    (state / "0").mkdir(parents=True)
    (state / "0" / "NVRAM").symlink_to(outside)
    sim = modemsim(model="ec25", state=str(state))
    t = sim.open()
    assert qfupl(t, "x.txt", b"x").startswith(b"+QFUPL: 1,")
    assert tree(str(outside)) == ["a.txt"]


# ---- made while modemsim runs ----

def swap_for_link(path, target):
    """Move the real directory at path aside and put a link to target in its place."""
    os.rename(str(path), str(path) + ".moved")
    os.symlink(str(target), str(path))


def test_ufs_link_made_later_fails_every_disk_write(modemsim, tmp_path, outside):
    state = tmp_path / "state"
    sim = modemsim(model="ec25", state=str(state))
    t = sim.open()
    assert qfupl(t, "a.txt", b"mine").startswith(b"+QFUPL: 4,")
    assert t.cmd('AT+QFOPEN="a.txt"') == b'AT+QFOPEN="a.txt"\r\r\n+QFOPEN: 1024\r\n\r\nOK\r\n'
    link = state / "0" / "UFS"
    swap_for_link(link, outside)

    # +QFUPL: the bytes arrive, the store refuses them as it refuses a failed disk write
    assert qfupl(t, "b.txt", b"escape") == b"\r\n+CME ERROR: 409\r\n"
    # +QFWRITE into the open file
    connect(t, "AT+QFWRITE=1024,3")
    t.write(b"bad")
    assert t.read_until(FINAL_RE, timeout=10) == b"\r\n+CME ERROR: 409\r\n"
    # +QFOPEN creating a file
    assert t.cmd('AT+QFOPEN="c.txt"') == b'AT+QFOPEN="c.txt"\r\r\n+CME ERROR: 409\r\n'
    # +QFDEL must not remove the outside a.txt of the same name
    assert t.cmd("AT+QFCLOSE=1024").endswith(b"\r\nOK\r\n")
    assert t.cmd('AT+QFDEL="a.txt"') == b'AT+QFDEL="a.txt"\r\r\n+CME ERROR: 418\r\n'
    assert t.cmd('AT+QFDEL="*"') == b'AT+QFDEL="*"\r\r\n+CME ERROR: 418\r\n'
    # the store is as it was
    assert t.cmd("AT+QFLST") == b'AT+QFLST\r\r\n+QFLST: "UFS:a.txt",4\r\n\r\nOK\r\n'
    # RAM: is memory only and unaffected
    assert qfupl(t, "RAM:r.txt", b"ram").startswith(b"+QFUPL: 3,")

    assert tree(str(outside)) == ["a.txt"]
    assert (outside / "a.txt").read_bytes() == b"keep"
    err = sim.stderr().decode()
    assert str(link) in err and "symbolic link" in err, err

    # a real directory again: writes go through again (the check is made at every write)
    os.unlink(str(link))
    os.rename(str(link) + ".moved", str(link))
    assert qfupl(t, "d.txt", b"back").startswith(b"+QFUPL: 4,")
    assert sorted(os.listdir(str(link))) == ["a.txt", "d.txt"]
    assert tree(str(outside)) == ["a.txt"]


@pytest.mark.parametrize("rel", ["0", "0/tmp"])
def test_root_or_tmp_link_made_later_fails_uploads(modemsim, tmp_path, outside, rel):
    state = tmp_path / "state"
    sim = modemsim(model="ec25", state=str(state))
    t = sim.open()
    assert qfupl(t, "a.txt", b"mine").startswith(b"+QFUPL: 4,")
    link = state / rel
    swap_for_link(link, outside)
    assert qfupl(t, "b.txt", b"escape") == b"\r\n+CME ERROR: 409\r\n"
    assert tree(str(outside)) == ["a.txt"]
    assert (outside / "a.txt").read_bytes() == b"keep"
    err = sim.stderr().decode()
    assert str(link) in err and "symbolic link" in err, err


def test_ufs_link_made_before_first_write(modemsim, tmp_path, outside):
    # the modem's directory does not exist at start-up; the link comes before it is needed
    state = tmp_path / "state"
    sim = modemsim(model="ec25", state=str(state))
    t = sim.open()
    (state / "0").mkdir(parents=True)
    (state / "0" / "UFS").symlink_to(outside)
    assert qfupl(t, "b.txt", b"escape") == b"\r\n+CME ERROR: 409\r\n"
    assert tree(str(outside)) == ["a.txt"]


def test_m95_nvram_link_made_later(modemsim, tmp_path, outside):
    state = tmp_path / "state"
    sim = modemsim(model="m95", state=str(state))
    t = sim.open()
    assert t.cmd("AT+CMEE=1") == b"AT+CMEE=1\r\r\nOK\r\n"
    assert qsecwrite(t, "NVRAM:CA0", b"ca").startswith(b"\r\n+QSECWRITE: 2,")
    link = state / "0" / "NVRAM"
    swap_for_link(link, outside)
    assert qsecwrite(t, "NVRAM:CC0", b"cc") == b"\r\n+CME ERROR: 23\r\n"
    assert t.cmd('AT+QSECDEL="NVRAM:CA0"') == \
        b'AT+QSECDEL="NVRAM:CA0"\r\r\n+CME ERROR: 23\r\n'
    assert qsecwrite(t, "RAM:r.pem", b"ram").startswith(b"\r\n+QSECWRITE: 3,")
    assert tree(str(outside)) == ["a.txt"]
    err = sim.stderr().decode()
    assert str(link) in err and "symbolic link" in err, err
