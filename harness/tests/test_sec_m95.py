"""M95 certificate files, byte for byte: +QSECWRITE +QSECREAD +QSECDEL on RAM: and NVRAM:
(GSM SSL Application Note V3.3 2.2.7-2.2.9, examples 3.1 and 3.2; reference §2, §3a)."""
import os
import time

import pytest

from modemsim import xor16_hex as xor16
from modemsim_harness.at import connect, qsecwrite, reboot


def pem_like(n, seed):
    """n bytes of PEM-looking text with LF line ends (our own bytes, not the note's)."""
    body = b"".join(bytes([65 + (i * 13 + seed) % 26]) for i in range(n))
    return bytes(b if i % 65 != 64 else 10 for i, b in enumerate(body))


def written(data):
    # reference §3a: a CR LF (blank line) before +QSECWRITE: on M95
    return b"\r\n+QSECWRITE: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data))


def secread(t, name):
    return t.cmd('AT+QSECREAD="%s"' % name)


def read_ok(name, data):
    return b'AT+QSECREAD="%s"\r\r\n+QSECREAD: 1,%s\r\n\r\nOK\r\n' % (name.encode(), xor16(data))


@pytest.mark.parametrize("cmd,want", [
    ("AT+QSECWRITE=?", b"\r\n+QSECWRITE: <filename>,<filesize>[,(3-200)]\r\n\r\nOK\r\n"),
    ("AT+QSECREAD=?", b"\r\n+QSECREAD: <filename>\r\n\r\nOK\r\n"),
    ("AT+QSECDEL=?", b"\r\n+QSECDEL: <filename>\r\n\r\nOK\r\n"),
    ("AT+QSECWRITE?", b"\r\nOK\r\n"),
    ("AT+QSECREAD?", b"\r\nERROR\r\n"),
])
def test_test_and_read_forms(m95, cmd, want):
    assert m95.cmd(cmd) == cmd.encode() + b"\r" + want


def test_ec25_has_no_qsec_commands(ec25):
    assert ec25.cmd('AT+QSECREAD="RAM:a"') == b'AT+QSECREAD="RAM:a"\r\r\nERROR\r\n'


def test_example_3_1_ram(m95):
    """AN example 3.1 with our own bytes of the same sizes: write, check, delete."""
    files = [("RAM:ca_cert.pem", pem_like(1614, 1)), ("RAM:client_cert.pem", pem_like(1419, 2)),
             ("RAM:client_key.pem", pem_like(1679, 3))]
    for name, data in files:
        assert qsecwrite(m95, name, data) == written(data)
    for name, data in files:
        assert secread(m95, name) == read_ok(name, data)
    for name, _ in files:
        assert m95.cmd('AT+QSECDEL="%s"' % name) == b'AT+QSECDEL="%s"\r\r\nOK\r\n' % name.encode()
    for name, _ in files:
        assert secread(m95, name) == b'AT+QSECREAD="%s"\r\r\nERROR\r\n' % name.encode()
    assert m95.drain(0.2) == b""


def test_example_3_2_nvram(m95):
    files = [("NVRAM:CA0", pem_like(1614, 4)), ("NVRAM:CC0", pem_like(1419, 5)),
             ("NVRAM:CK0", pem_like(1679, 6))]
    for name, data in files:
        assert qsecwrite(m95, name, data) == written(data)
    for name, data in files:
        assert secread(m95, name) == read_ok(name, data)


def test_checksum_of_a_real_certificate(m95):
    path = "/etc/ssl/certs/Amazon_Root_CA_1.pem"
    if not os.path.exists(path):
        pytest.skip("%s is not installed (Debian ca-certificates)" % path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != 1188:
        pytest.skip("%s is %d bytes, not 1188" % (path, len(data)))
    # reference §2: the M95 mqtt.c driver waits for exactly this string
    assert qsecwrite(m95, "RAM:cacert.pem", data) == b"\r\n+QSECWRITE: 1188,2d13\r\n\r\nOK\r\n"
    assert secread(m95, "RAM:cacert.pem").endswith(b"\r\n+QSECREAD: 1,2d13\r\n\r\nOK\r\n")


def test_existing_file_must_be_deleted_first(m95):
    assert qsecwrite(m95, "RAM:a.pem", b"first") == written(b"first")
    assert m95.cmd('AT+QSECWRITE="RAM:a.pem",6,100') == b'AT+QSECWRITE="RAM:a.pem",6,100\r\r\nERROR\r\n'
    m95.cmd("AT+CMEE=1")
    assert m95.cmd('AT+QSECWRITE="RAM:a.pem",6').endswith(b"\r\n+CME ERROR: 3\r\n")
    assert m95.cmd('AT+QSECREAD="RAM:none"').endswith(b"\r\n+CME ERROR: 22\r\n")
    assert m95.cmd('AT+QSECDEL="RAM:none"').endswith(b"\r\n+CME ERROR: 22\r\n")
    assert m95.cmd('AT+QSECDEL="RAM:a.pem"').endswith(b"\r\nOK\r\n")
    assert qsecwrite(m95, "RAM:a.pem", b"second") == written(b"second")
    assert secread(m95, "RAM:a.pem") == read_ok("RAM:a.pem", b"second")


@pytest.mark.parametrize("line", [
    'AT+QSECWRITE="NVRAM:XX0",10',  # NVRAM holds CA0, CC0 and CK0 only
    'AT+QSECWRITE="NVRAM:ca0",10',
    'AT+QSECWRITE="NVRAM:CAO",10',  # the letter O of the note's typo
    'AT+QSECWRITE="ca.pem",10',  # a drive is required
    'AT+QSECWRITE="UFS:ca.pem",10',
    'AT+QSECWRITE="RAM:../x",10',
    'AT+QSECWRITE="RAM:a/b",10',
    'AT+QSECWRITE="RAM:",10',
    'AT+QSECWRITE="RAM:' + "x" * 81 + '",10',
    'AT+QSECWRITE="RAM:a\x01",10',
    'AT+QSECWRITE="NVRAM:CA0",2018',  # AN 2.2.7: NVRAM at most 2017 bytes
    'AT+QSECWRITE="RAM:big",32769',  # RAM at most 32768
    'AT+QSECWRITE="RAM:zero",0',  # at least 1
    'AT+QSECWRITE="RAM:t",10,2',  # <timeout> 3-200
    'AT+QSECWRITE="RAM:t",10,201',
    'AT+QSECWRITE="RAM:t"',
    'AT+QSECWRITE=RAM:t,10',
    'AT+QSECREAD="NVRAM:XX0"',
    'AT+QSECDEL="a/b"',
])
def test_bad_names_and_limits(m95, line):
    assert m95.cmd(line) == line.encode() + b"\r\r\nERROR\r\n"


def test_bad_input_with_cmee_1_is_50(m95):
    m95.cmd("AT+CMEE=1")
    assert m95.cmd('AT+QSECWRITE="NVRAM:XX0",10').endswith(b"\r\n+CME ERROR: 50\r\n")


def test_size_limits_accept_the_maximum(m95):
    assert qsecwrite(m95, "NVRAM:CA0", pem_like(2017, 7)) == written(pem_like(2017, 7))
    big = pem_like(32768, 8)
    assert qsecwrite(m95, "RAM:big.pem", big) == written(big)
    assert secread(m95, "RAM:big.pem") == read_ok("RAM:big.pem", big)


def test_timeout_keeps_what_arrived(m95):
    """Reference §3: an M95 declared 1467 bytes and answered 1392,... after the timeout."""
    data = pem_like(1392, 9)
    connect(m95, 'AT+QSECWRITE="RAM:short.pem",1467,3')
    m95.write(data)
    sent = time.monotonic()
    m95.expect(written(data), timeout=6)
    assert 2.8 < time.monotonic() - sent < 5
    assert secread(m95, "RAM:short.pem") == read_ok("RAM:short.pem", data)


def test_escape_ends_the_upload(m95):
    data = pem_like(100, 10)
    connect(m95, 'AT+QSECWRITE="RAM:esc.pem",1000,100')
    m95.write(data)
    assert m95.drain(quiet=1.1) == b""
    m95.write(b"+++")
    m95.expect(written(data), timeout=5)
    assert secread(m95, "RAM:esc.pem") == read_ok("RAM:esc.pem", data)


def test_nvram_survives_reboot_ram_does_not(m95):
    ca, key = pem_like(1500, 11), pem_like(900, 12)
    qsecwrite(m95, "NVRAM:CA0", ca)
    qsecwrite(m95, "RAM:key.pem", key)
    reboot(m95)
    assert secread(m95, "NVRAM:CA0") == read_ok("NVRAM:CA0", ca)
    assert secread(m95, "RAM:key.pem") == b'AT+QSECREAD="RAM:key.pem"\r\r\nERROR\r\n'


def test_nvram_survives_restart_with_state(modemsim, tmp_path):
    state = str(tmp_path / "state")
    cc = pem_like(1419, 13)
    sim = modemsim(model="m95", state=state)
    t = sim.open()
    assert qsecwrite(t, "NVRAM:CC0", cc) == written(cc)
    qsecwrite(t, "RAM:gone.pem", b"gone")
    assert sim.stop() == 0
    mine = os.path.join(state, "0")  # the modem's own directory; RAM: leaves nothing there
    files = sorted(os.path.relpath(os.path.join(d, f), mine)
                   for d, _, fs in os.walk(mine) for f in fs)
    assert files == [os.path.join("NVRAM", "CC0")]
    sim = modemsim(model="m95", state=state)
    t = sim.open()
    assert secread(t, "NVRAM:CC0") == read_ok("NVRAM:CC0", cc)
    assert secread(t, "RAM:gone.pem").endswith(b"\r\nERROR\r\n")
    assert t.cmd('AT+QSECDEL="NVRAM:CC0"').endswith(b"\r\nOK\r\n")
    assert sim.stop() == 0
    assert not os.path.exists(os.path.join(state, "0", "NVRAM", "CC0"))
