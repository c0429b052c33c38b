"""EC25 file system, byte for byte: +QFUPL +QFDWL +QFDEL +QFLST +QFLDS and the handle commands
+QFOPEN +QFREAD +QFWRITE +QFSEEK +QFPOSITION +QFTUCAT +QFCLOSE, on UFS: and RAM:
(reference §1-§3, host-drivers.md items 5, 11, 12)."""
import os
import time

import pytest

from modemsim import FINAL_RE
from modemsim import xor16_hex as xor16
from modemsim_harness.at import connect, qfupl, reboot

AMAZON = "/etc/ssl/certs/Amazon_Root_CA_1.pem"
ISRG = "/etc/ssl/certs/ISRG_Root_X1.pem"
UFS_TOTAL = 14483456


def payload(n, seed=0):
    """n bytes that cover every byte value, CR, LF, '+' and NUL included."""
    return bytes((i * 7 + seed) % 256 for i in range(n))


def qfdwl(t, name, n):
    """AT+QFDWL: exactly n bytes of data, then the tail (the answer under test)."""
    t.write(b'AT+QFDWL="%s"\r' % name.encode())
    t.expect(b'AT+QFDWL="%s"\r\r\nCONNECT\r\n' % name.encode())
    data = t.read_exact(n, timeout=20)
    tail = t.read_until(FINAL_RE)
    return data, tail


def ok_result(name, data):
    return b"+QFUPL: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data))


# ---- test forms (BG770A capture / BG96 FILE manual) ----

@pytest.mark.parametrize("cmd,info", [
    ("AT+QFUPL=?", b"+QFUPL: <filename>[,(1-<freesize>)[,(1-65535)[,(0,1)]]]"),
    ("AT+QFDWL=?", b"+QFDWL: <filename>"),
    ("AT+QFDEL=?", b"+QFDEL: <filename>"),
    ("AT+QFLST=?", None),
    ("AT+QFLDS=?", None),
    ("AT+QFOPEN=?", b"+QFOPEN: <filename>[,(0-2)]"),
    ("AT+QFREAD=?", b"+QFREAD: <filehandle>[,<length>]"),
    ("AT+QFWRITE=?", b"+QFWRITE: <filehandle>[,<length>[,<timeout>]]"),
    ("AT+QFSEEK=?", b"+QFSEEK: <filehandle>,<offset>[,(0-2)]"),
    ("AT+QFPOSITION=?", b"+QFPOSITION: <filehandle>"),
    ("AT+QFTUCAT=?", b"+QFTUCAT: <filehandle>"),
    ("AT+QFCLOSE=?", b"+QFCLOSE: <filehandle>"),
])
def test_test_forms(ec25, cmd, info):
    want = cmd.encode() + b"\r\r\n" + (info + b"\r\n\r\n" if info else b"") + b"OK\r\n"
    assert ec25.cmd(cmd) == want


def test_m95_has_no_qf_commands(m95):
    assert m95.cmd('AT+QFUPL="a",1') == b'AT+QFUPL="a",1\r\r\nERROR\r\n'


# ---- upload and download ----

def test_upload_exact_size_then_download(ec25):
    connect(ec25, 'AT+QFUPL="RAM:a.txt",5,5')
    ec25.write(b"Hello")
    # no CR LF before +QFUPL: (reference §3, EC25 frogwatch and BG96 captures)
    ec25.expect(b"+QFUPL: 5,4b09\r\n\r\nOK\r\n")
    ec25.write(b'AT+QFDWL="RAM:a.txt"\r')
    ec25.expect(b'AT+QFDWL="RAM:a.txt"\r\r\nCONNECT\r\nHello\r\n+QFDWL: 5,4b09\r\n\r\nOK\r\n')
    assert ec25.cmd('AT+QFLST="RAM:*"') == (
        b'AT+QFLST="RAM:*"\r\r\n+QFLST: "RAM:a.txt",5\r\n\r\nOK\r\n')
    assert ec25.drain(0.2) == b""


def test_upload_binary_with_at_and_escape_lookalikes_is_data(ec25):
    data = b'AT+QFDEL="*"\r\n+++\x00\x1a\x1bA/' + payload(300)
    assert qfupl(ec25, "bin.dat", data) == ok_result("bin.dat", data)
    got, tail = qfdwl(ec25, "bin.dat", len(data))
    assert got == data
    assert tail == b"\r\n+QFDWL: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data))


def test_lf_after_command_is_not_data(ec25):
    # host-drivers.md item 2: the LF of a CR LF terminator is swallowed, also before data
    ec25.write(b'AT+QFUPL="lf.txt",3\r\n')
    ec25.expect(b'AT+QFUPL="lf.txt",3\r\r\nCONNECT\r\n')
    ec25.write(b"abc")
    ec25.expect(b"+QFUPL: 3,%s\r\n\r\nOK\r\n" % xor16(b"abc"))
    # host-drivers.md item 5: a stray CR and "\x1a\r" after the data do not disturb the next
    # command: they are echoed (ATE1) and answered with nothing
    ec25.write(b"\r\x1a\r")
    assert ec25.cmd("AT") == b"\r\x1a\rAT\r\r\nOK\r\n"


def test_lf_after_connect_is_data(ec25):
    """Issue 10 item 3: a data phase is byte-exact from its first byte. A LF the host sends
    after CONNECT is the file's first byte, however soon after the command's CR, and the
    declared size does not reach into the next command."""
    data = b"\nabc"
    connect(ec25, 'AT+QFUPL="RAM:lf.txt",4')
    ec25.write(data)
    ec25.expect(ok_result("RAM:lf.txt", data))
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"
    got, tail = qfdwl(ec25, "RAM:lf.txt", len(data))
    assert got == data
    assert tail == b"\r\n+QFDWL: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data))


def test_zero_byte_file_and_empty_download(ec25):
    connect(ec25, 'AT+QFUPL="empty",1,1')
    ec25.expect(b"+QFUPL: 0,0\r\n\r\nOK\r\n", timeout=4)
    assert ec25.cmd('AT+QFLST="empty"') == b'AT+QFLST="empty"\r\r\n+QFLST: "UFS:empty",0\r\n\r\nOK\r\n'
    assert ec25.cmd('AT+QFDWL="empty"') == b'AT+QFDWL="empty"\r\r\nCONNECT\r\n'
    ec25.expect(b"\r\n+QFDWL: 0,0\r\n\r\nOK\r\n")


def test_upload_ends_on_timeout_keeps_true_size(ec25):
    data = payload(37, 3)
    connect(ec25, 'AT+QFUPL="UFS:t.pem",100,1')
    ec25.write(data)
    sent = time.monotonic()
    ec25.expect(b"+QFUPL: 37,%s\r\n\r\nOK\r\n" % xor16(data), timeout=5)
    waited = time.monotonic() - sent
    assert 0.8 < waited < 3.0, waited
    got, tail = qfdwl(ec25, "UFS:t.pem", 37)
    assert got == data
    assert tail == b"\r\n+QFDWL: 37,%s\r\n\r\nOK\r\n" % xor16(data)
    assert ec25.cmd('AT+QFLST="t.pem"').endswith(b'+QFLST: "UFS:t.pem",37\r\n\r\nOK\r\n')


def test_upload_ends_on_escape_with_guard_times(ec25):
    data = payload(10, 5)
    connect(ec25, 'AT+QFUPL="esc.bin",100,60')
    ec25.write(data)
    assert ec25.drain(quiet=1.1) == b""  # guard time before: nothing from the modem
    ec25.write(b"+++")
    sent = time.monotonic()
    ec25.expect(b"+QFUPL: 10,%s\r\n\r\nOK\r\n" % xor16(data), timeout=5)
    assert time.monotonic() - sent > 0.9  # the guard time after the +++
    got, _ = qfdwl(ec25, "esc.bin", 10)
    assert got == data


def test_plus_without_guard_time_is_data(ec25):
    data = b"ab+++cd"
    connect(ec25, 'AT+QFUPL="plus.txt",7,30')
    ec25.write(data)
    ec25.expect(ok_result("plus.txt", data))
    assert qfdwl(ec25, "plus.txt", 7)[0] == data


@pytest.mark.parametrize("size", [2048, 2500, 1023])
def test_ackmode_sends_A_per_kilobyte(ec25, size):
    data = payload(size, 9)
    connect(ec25, 'AT+QFUPL="ack.bin",%d,5,1' % size)
    out = b""
    for off in range(0, size, 1024):
        ec25.write(data[off:off + 1024])
        if off + 1024 <= size:
            out += ec25.expect(b"A")
    ec25.expect(ok_result("ack.bin", data))
    assert len(out) == size // 1024
    assert qfdwl(ec25, "ack.bin", size)[0] == data


def test_existing_file_gives_407_without_connect(ec25):
    qfupl(ec25, "dup.txt", b"one")
    assert ec25.cmd('AT+QFUPL="dup.txt",3') == b'AT+QFUPL="dup.txt",3\r\r\n+CME ERROR: 407\r\n'
    assert ec25.cmd('AT+QFUPL="UFS:dup.txt",3') == b'AT+QFUPL="UFS:dup.txt",3\r\r\n+CME ERROR: 407\r\n'
    ec25.cmd("AT+CMEE=2")
    assert ec25.cmd('AT+QFUPL="dup.txt",3').endswith(b"\r\n+CME ERROR: file already existed\r\n")
    # the same name on the other drive is another file
    assert qfupl(ec25, "RAM:dup.txt", b"two") == ok_result("RAM:dup.txt", b"two")


def test_upload_larger_than_free_space(ec25):
    line = 'AT+QFUPL="big",%d' % (UFS_TOTAL + 1)
    assert ec25.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 420\r\n"


def test_bad_parameters_give_400(ec25):
    for line in ('AT+QFUPL=a.txt,5', 'AT+QFUPL="a",0', 'AT+QFUPL="a",5,0', 'AT+QFUPL="a",5,5,2',
                 'AT+QFUPL="a",5,65536', 'AT+QFUPL="a', 'AT+QFDWL="a","b"', 'AT+QFOPEN="a",3'):
        assert ec25.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 400\r\n", line
    # a form the command does not have is the dispatcher's plain ERROR
    for line in ("AT+QFUPL", "AT+QFDWL", "AT+QFUPL?"):
        assert ec25.cmd(line) == line.encode() + b"\r\r\nERROR\r\n", line


def test_large_download_is_complete(ec25):
    # bigger than the output buffers: the download is paced by what the host has read
    data = payload(300 * 1024, 11)
    assert qfupl(ec25, "fw.bin", data) == ok_result("fw.bin", data)
    got, tail = qfdwl(ec25, "fw.bin", len(data))
    assert got == data
    assert tail == b"\r\n+QFDWL: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data))


# ---- delete, list, disk space ----

def test_qfdel_missing_is_418(ec25):
    assert ec25.cmd('AT+QFDEL="nope.txt"') == b'AT+QFDEL="nope.txt"\r\r\n+CME ERROR: 418\r\n'
    assert ec25.cmd('AT+QFDEL="RAM:nope.txt"').endswith(b"+CME ERROR: 418\r\n")


def test_qfdel_one_and_star(ec25):
    for name in ("a.pem", "b.pem", "RAM:c.pem"):
        qfupl(ec25, name, b"x")
    assert ec25.cmd('AT+QFDEL="a.pem"') == b'AT+QFDEL="a.pem"\r\r\nOK\r\n'
    assert ec25.cmd("AT+QFLST") == b'AT+QFLST\r\r\n+QFLST: "UFS:b.pem",1\r\n\r\nOK\r\n'
    assert ec25.cmd('AT+QFDEL="*"') == b'AT+QFDEL="*"\r\r\nOK\r\n'
    assert ec25.cmd("AT+QFLST") == b"AT+QFLST\r\r\nOK\r\n"
    # "*" is UFS:; RAM: has its own
    assert ec25.cmd('AT+QFLST="RAM:*"') == b'AT+QFLST="RAM:*"\r\r\n+QFLST: "RAM:c.pem",1\r\n\r\nOK\r\n'
    assert ec25.cmd('AT+QFDEL="RAM:*"') == b'AT+QFDEL="RAM:*"\r\r\nOK\r\n'
    assert ec25.cmd('AT+QFLST="RAM:*"') == b'AT+QFLST="RAM:*"\r\r\nOK\r\n'
    assert ec25.cmd('AT+QFDEL="*"') == b'AT+QFDEL="*"\r\r\nOK\r\n'  # nothing left: still OK


def test_qflst_forms(ec25):
    qfupl(ec25, "client.crt", b"c" * 851)
    qfupl(ec25, "UFS:key.pem", b"k" * 10)
    qfupl(ec25, "RAM:ca.pem", b"r" * 7)
    both = b'+QFLST: "UFS:client.crt",851\r\n+QFLST: "UFS:key.pem",10\r\n\r\nOK\r\n'
    assert ec25.cmd("AT+QFLST") == b"AT+QFLST\r\r\n" + both
    assert ec25.cmd('AT+QFLST="*"') == b'AT+QFLST="*"\r\r\n' + both
    assert ec25.cmd('AT+QFLST="UFS:*"') == b'AT+QFLST="UFS:*"\r\r\n' + both
    assert ec25.cmd('AT+QFLST="ufs:*"') == b'AT+QFLST="ufs:*"\r\r\n' + both
    # EC25 frogwatch capture: the prefix is printed for a plain name too
    assert ec25.cmd('AT+QFLST="client.crt"') == (
        b'AT+QFLST="client.crt"\r\r\n+QFLST: "UFS:client.crt",851\r\n\r\nOK\r\n')
    assert ec25.cmd('AT+QFLST="*.pem"') == b'AT+QFLST="*.pem"\r\r\n+QFLST: "UFS:key.pem",10\r\n\r\nOK\r\n'
    assert ec25.cmd('AT+QFLST="RAM:*"') == b'AT+QFLST="RAM:*"\r\r\n+QFLST: "RAM:ca.pem",7\r\n\r\nOK\r\n'
    assert ec25.cmd('AT+QFLST="missing"') == b'AT+QFLST="missing"\r\r\nOK\r\n'
    assert ec25.cmd('AT+QFLST="a/b"') == b'AT+QFLST="a/b"\r\r\n+CME ERROR: 406\r\n'


def test_qflds(ec25):
    assert ec25.cmd("AT+QFLDS") == b"AT+QFLDS\r\r\n+QFLDS: 0,0\r\n\r\nOK\r\n"
    assert ec25.cmd('AT+QFLDS="UFS"') == b'AT+QFLDS="UFS"\r\r\n+QFLDS: %d,%d\r\n\r\nOK\r\n' % (
        UFS_TOTAL, UFS_TOTAL)
    qfupl(ec25, "a", b"x" * 100)
    qfupl(ec25, "b", b"y" * 23)
    qfupl(ec25, "RAM:c", b"z" * 5)
    assert ec25.cmd("AT+QFLDS") == b"AT+QFLDS\r\r\n+QFLDS: 123,2\r\n\r\nOK\r\n"
    assert ec25.cmd('AT+QFLDS="ufs"') == b'AT+QFLDS="ufs"\r\r\n+QFLDS: %d,%d\r\n\r\nOK\r\n' % (
        UFS_TOTAL - 123, UFS_TOTAL)
    ram = ec25.cmd('AT+QFLDS="RAM"')
    free, total = [int(v) for v in ram.split(b"+QFLDS: ")[1].split(b"\r")[0].split(b",")]
    assert total - free == 5
    assert ec25.cmd('AT+QFLDS="SD"') == b'AT+QFLDS="SD"\r\r\n+CME ERROR: 400\r\n'


# ---- file names ----

@pytest.mark.parametrize("name", [
    "../x", "UFS:../x", "a/b", "/etc/passwd", "a\\b", "..", ".", "UFS:", "", "a\x01b",
    "tab\there", "del\x1f", "C:x", "RAM:a:b", "a*", "a?", "x" * 81, "UFS:" + "x" * 81,
])
def test_bad_names_give_406(ec25, name):
    for line in ('AT+QFUPL="%s",1' % name, 'AT+QFDWL="%s"' % name, 'AT+QFOPEN="%s"' % name):
        assert ec25.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 406\r\n", line


def test_longest_name_is_80_bytes(ec25):
    name = "n" * 80
    assert qfupl(ec25, name, b"ok") == ok_result(name, b"ok")
    assert qfupl(ec25, "RAM:" + name, b"ok") == ok_result(name, b"ok")


def test_names_never_leave_the_state_dir(modemsim, tmp_path):
    state = tmp_path / "state"
    sim = modemsim(model="ec25", state=str(state))
    t = sim.open()
    for name in ("../x", "../../x", "UFS:../up", "a/b", "/tmp/evil", "..", "RAM:../r"):
        line = 'AT+QFUPL="%s",1' % name
        assert t.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 406\r\n"
        line = 'AT+QFDEL="%s"' % name
        assert t.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 406\r\n"
    qfupl(t, "good.txt", b"good")
    qfupl(t, "RAM:mem.txt", b"mem")
    # the modem's own directory holds exactly the one UFS: file (other parts of modemsim, such
    # as the built-in broker, keep their files elsewhere under the state directory)
    mine = str(state / "0")
    files = sorted(os.path.relpath(os.path.join(d, f), mine)
                   for d, _, fs in os.walk(mine) for f in fs)
    assert files == [os.path.join("UFS", "good.txt")]
    everywhere = [f for _, _, fs in os.walk(str(tmp_path)) for f in fs]
    for leaked in ("x", "up", "evil", "r", "b"):
        assert leaked not in everywhere
    assert not os.path.exists("/tmp/evil")
    outside = sorted(p for p in os.listdir(str(tmp_path)))
    assert outside == ["sim0", "state"]
    assert sorted(os.listdir(str(tmp_path / "sim0"))) == ["stderr.txt", "trace.jsonl",
                                                          "transcript.log"]


# ---- persistence ----

def test_ufs_survives_restart_with_state_ram_does_not(modemsim, tmp_path):
    state = str(tmp_path / "state")
    data = payload(1000, 1)
    sim = modemsim(model="ec25", state=state)
    t = sim.open()
    qfupl(t, "keep.bin", data)
    qfupl(t, "RAM:lost.bin", b"lost")
    assert sim.stop() == 0
    with open(os.path.join(state, "0", "UFS", "keep.bin"), "rb") as f:
        assert f.read() == data
    sim = modemsim(model="ec25", state=state)
    t = sim.open()
    assert t.cmd("AT+QFLST") == b'AT+QFLST\r\r\n+QFLST: "UFS:keep.bin",1000\r\n\r\nOK\r\n'
    assert t.cmd('AT+QFLST="RAM:*"') == b'AT+QFLST="RAM:*"\r\r\nOK\r\n'
    assert qfdwl(t, "keep.bin", 1000)[0] == data
    # a deletion persists too
    assert t.cmd('AT+QFDEL="keep.bin"').endswith(b"\r\nOK\r\n")
    assert sim.stop() == 0
    sim = modemsim(model="ec25", state=state)
    t = sim.open()
    assert t.cmd("AT+QFLST") == b"AT+QFLST\r\r\nOK\r\n"


def test_without_state_nothing_persists(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    qfupl(t, "gone.txt", b"x")
    assert sim.stop() == 0
    sim = modemsim(model="ec25")
    t = sim.open()
    assert t.cmd("AT+QFLST") == b"AT+QFLST\r\r\nOK\r\n"


def test_cfun_reboot_keeps_ufs_drops_ram(ec25):
    qfupl(ec25, "UFS:u.txt", b"flash")
    qfupl(ec25, "RAM:r.txt", b"ram")
    reboot(ec25)
    assert ec25.cmd("AT+QFLST") == b'AT+QFLST\r\r\n+QFLST: "UFS:u.txt",5\r\n\r\nOK\r\n'
    assert ec25.cmd('AT+QFLST="RAM:*"') == b'AT+QFLST="RAM:*"\r\r\nOK\r\n'
    assert qfdwl(ec25, "u.txt", 5)[0] == b"flash"


def test_cfun_reboot_closes_handles(ec25):
    assert ec25.cmd('AT+QFOPEN="h.txt"').endswith(b"+QFOPEN: 1024\r\n\r\nOK\r\n")
    reboot(ec25)
    assert ec25.cmd("AT+QFOPEN?") == b"AT+QFOPEN?\r\r\nOK\r\n"
    assert ec25.cmd("AT+QFCLOSE=1024") == b"AT+QFCLOSE=1024\r\r\n+CME ERROR: 416\r\n"


# ---- handles ----

def test_open_write_seek_read_close(ec25):
    assert ec25.cmd('AT+QFOPEN="RAM:h.txt",0') == (
        b'AT+QFOPEN="RAM:h.txt",0\r\r\n+QFOPEN: 1024\r\n\r\nOK\r\n')
    assert ec25.cmd("AT+QFOPEN?") == b'AT+QFOPEN?\r\r\n+QFOPEN: "RAM:h.txt",1024,0\r\n\r\nOK\r\n'
    connect(ec25, "AT+QFWRITE=1024,10")
    ec25.write(b"0123456789")
    # host-drivers.md item 12: +QFWRITE: is the first line after the data
    ec25.expect(b"+QFWRITE: 10,10\r\n\r\nOK\r\n")
    assert ec25.cmd("AT+QFPOSITION=1024") == b"AT+QFPOSITION=1024\r\r\n+QFPOSITION: 10\r\n\r\nOK\r\n"
    assert ec25.cmd("AT+QFSEEK=1024,2") == b"AT+QFSEEK=1024,2\r\r\nOK\r\n"
    assert ec25.cmd("AT+QFREAD=1024,3") == b"AT+QFREAD=1024,3\r\r\nCONNECT 3\r\n"
    ec25.expect(b"234\r\nOK\r\n")
    # without a length: to the end of the file
    assert ec25.cmd("AT+QFREAD=1024") == b"AT+QFREAD=1024\r\r\nCONNECT 5\r\n"
    ec25.expect(b"56789\r\nOK\r\n")
    assert ec25.cmd("AT+QFREAD=1024,10") == b"AT+QFREAD=1024,10\r\r\nCONNECT 0\r\n"
    ec25.expect(b"\r\nOK\r\n")
    # overwrite in the middle, extend past the end
    assert ec25.cmd("AT+QFSEEK=1024,-2,2") == b"AT+QFSEEK=1024,-2,2\r\r\nOK\r\n"
    connect(ec25, "AT+QFWRITE=1024,4,5")
    ec25.write(b"abcd")
    ec25.expect(b"+QFWRITE: 4,12\r\n\r\nOK\r\n")
    assert ec25.cmd("AT+QFSEEK=1024,3,0") == b"AT+QFSEEK=1024,3,0\r\r\nOK\r\n"
    assert ec25.cmd("AT+QFSEEK=1024,2,1") == b"AT+QFSEEK=1024,2,1\r\r\nOK\r\n"
    assert ec25.cmd("AT+QFPOSITION=1024").endswith(b"+QFPOSITION: 5\r\n\r\nOK\r\n")
    assert ec25.cmd("AT+QFTUCAT=1024") == b"AT+QFTUCAT=1024\r\r\nOK\r\n"
    assert ec25.cmd("AT+QFCLOSE=1024") == b"AT+QFCLOSE=1024\r\r\nOK\r\n"
    assert qfdwl(ec25, "RAM:h.txt", 5)[0] == b"01234"
    assert ec25.cmd("AT+QFOPEN?") == b"AT+QFOPEN?\r\r\nOK\r\n"


def test_qfwrite_timeout_reports_what_arrived(ec25):
    assert ec25.cmd('AT+QFOPEN="w.txt",1').endswith(b"+QFOPEN: 1024\r\n\r\nOK\r\n")
    connect(ec25, "AT+QFWRITE=1024,100,1")
    ec25.write(b"part")
    ec25.expect(b"+QFWRITE: 4,4\r\n\r\nOK\r\n", timeout=4)
    ec25.cmd("AT+QFCLOSE=1024")
    assert qfdwl(ec25, "w.txt", 4)[0] == b"part"


def test_open_modes_and_handle_errors(ec25):
    qfupl(ec25, "ro.txt", b"read only")
    assert ec25.cmd('AT+QFOPEN="missing.txt",2') == b'AT+QFOPEN="missing.txt",2\r\r\n+CME ERROR: 405\r\n'
    assert ec25.cmd('AT+QFOPEN="ro.txt",2').endswith(b"+QFOPEN: 1024\r\n\r\nOK\r\n")
    assert ec25.cmd('AT+QFOPEN="ro.txt",0') == b'AT+QFOPEN="ro.txt",0\r\r\n+CME ERROR: 426\r\n'
    assert ec25.cmd("AT+QFWRITE=1024,1") == b"AT+QFWRITE=1024,1\r\r\n+CME ERROR: 414\r\n"
    assert ec25.cmd("AT+QFTUCAT=1024") == b"AT+QFTUCAT=1024\r\r\n+CME ERROR: 414\r\n"
    assert ec25.cmd("AT+QFSEEK=1024,10") == b"AT+QFSEEK=1024,10\r\r\n+CME ERROR: 401\r\n"
    assert ec25.cmd("AT+QFSEEK=1024,9") == b"AT+QFSEEK=1024,9\r\r\nOK\r\n"
    assert ec25.cmd('AT+QFDEL="ro.txt"') == b'AT+QFDEL="ro.txt"\r\r\n+CME ERROR: 426\r\n'
    assert ec25.cmd('AT+QFDEL="*"') == b'AT+QFDEL="*"\r\r\nOK\r\n'  # passes the open file by
    assert ec25.cmd("AT+QFLST").endswith(b'+QFLST: "UFS:ro.txt",9\r\n\r\nOK\r\n')
    for cmd in ("AT+QFREAD=1025", "AT+QFCLOSE=7", "AT+QFPOSITION=0", "AT+QFSEEK=99999,0"):
        assert ec25.cmd(cmd) == cmd.encode() + b"\r\r\n+CME ERROR: 416\r\n"
    # mode 1 truncates
    assert ec25.cmd("AT+QFCLOSE=1024").endswith(b"\r\nOK\r\n")
    assert ec25.cmd('AT+QFOPEN="ro.txt",1').endswith(b"+QFOPEN: 1024\r\n\r\nOK\r\n")
    assert ec25.cmd("AT+QFCLOSE=1024").endswith(b"\r\nOK\r\n")
    assert ec25.cmd('AT+QFLST="ro.txt"').endswith(b'+QFLST: "UFS:ro.txt",0\r\n\r\nOK\r\n')


def test_too_many_open_files_is_413(ec25):
    for i in range(16):
        assert ec25.cmd('AT+QFOPEN="RAM:f%d"' % i).endswith(b"+QFOPEN: %d\r\n\r\nOK\r\n" % (1024 + i))
    assert ec25.cmd('AT+QFOPEN="RAM:f16"') == b'AT+QFOPEN="RAM:f16"\r\r\n+CME ERROR: 413\r\n'


# ---- the field log (seed 000): AWS provisioning with real certificates ----

def read_cert(path, size):
    if not os.path.exists(path):
        pytest.skip("%s is not installed (Debian ca-certificates)" % path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != size:
        pytest.skip("%s is %d bytes, not the %d of the reference" % (path, len(data), size))
    return data


def test_field_log_aws_provisioning(ec25):
    amazon = read_cert(AMAZON, 1188)
    assert ec25.cmd('AT+QFDEL="*"') == b'AT+QFDEL="*"\r\r\nOK\r\n'
    assert qfupl(ec25, "RAM:cacert.pem", amazon, timeout=100) == b"+QFUPL: 1188,2d13\r\n\r\nOK\r\n"
    key, client = payload(1679, 2), payload(1220, 4)
    assert qfupl(ec25, "RAM:user_key.pem", key, timeout=100) == ok_result("", key)
    assert qfupl(ec25, "RAM:client.pem", client, timeout=100) == ok_result("", client)
    assert ec25.cmd('AT+QFLST="RAM:*"') == (
        b'AT+QFLST="RAM:*"\r\r\n+QFLST: "RAM:cacert.pem",1188\r\n'
        b'+QFLST: "RAM:user_key.pem",1679\r\n+QFLST: "RAM:client.pem",1220\r\n\r\nOK\r\n')


def test_isrg_root_x1_odd_length(ec25):
    isrg = read_cert(ISRG, 1939)
    assert qfupl(ec25, "isrgx1.pem", isrg) == b"+QFUPL: 1939,4f64\r\n\r\nOK\r\n"
    assert ec25.cmd('AT+QFLST="*"') == b'AT+QFLST="*"\r\r\n+QFLST: "UFS:isrgx1.pem",1939\r\n\r\nOK\r\n'


def test_crlf_certificate_with_lf_size_is_cut(ec25):
    """The field failure: the certificate was sent with CR LF line ends (1208 bytes) after
    declaring the LF size (1188). The modem stores the first 1188 bytes, the other 20 are
    taken as command lines."""
    amazon = read_cert(AMAZON, 1188)
    crlf = amazon.replace(b"\n", b"\r\n")
    assert len(crlf) == 1208
    connect(ec25, 'AT+QFUPL="ufs:cacert.pem",1188,100')
    ec25.write(crlf)
    ec25.expect(ok_result("", crlf[:1188]))
    ec25.read_until(b"\r\nERROR\r\n")  # the tail of the certificate is not a command
    ec25.drain(0.3)
    got, tail = qfdwl(ec25, "cacert.pem", 1188)
    assert got == crlf[:1188]


def test_wrong_declared_size_times_out_with_true_size(ec25):
    amazon = read_cert(AMAZON, 1188)
    connect(ec25, 'AT+QFUPL="UFS:cacert.pem",1208,1')
    ec25.write(amazon)
    ec25.expect(b"+QFUPL: 1188,2d13\r\n\r\nOK\r\n", timeout=5)
