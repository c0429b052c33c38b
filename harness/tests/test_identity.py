"""Identity commands on both models, byte for byte (reference §7): manufacturer, model,
revision, IMEI, IMSI, ICCID, their test forms, and the forms and commands a model lacks."""
import re

import pytest

from modemsim_harness.at import info_line


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@pytest.mark.parametrize("cmd,line", [
    ("AT+CGMI", b"Quectel"),
    ("AT+GMI", b"Quectel"),
    ("AT+CGMM", b"EC25"),
    ("AT+GMM", b"EC25"),
    ("AT+GMR", b"EC25EFAR06A17M4G"),
    ("AT+CGMR", b"EC25EFAR06A17M4G"),
    ("AT+QGMR", b"EC25EFAR06A17M4G_01.002.01.002"),
])
def test_ec25_fixed_identity(ec25, cmd, line):
    assert ec25.cmd(cmd) == cmd.encode() + b"\r\r\n" + line + b"\r\n\r\nOK\r\n"


@pytest.mark.parametrize("cmd,line", [
    ("AT+CGMI", b"Quectel_Ltd"),
    ("AT+GMI", b"Quectel_Ltd"),
    ("AT+CGMM", b"Quectel_M95"),
    ("AT+GMM", b"Quectel_M95"),
    ("AT+GMR", b"Revision: M95FAR02A08"),
    ("AT+CGMR", b"Revision: M95FAR02A08"),
])
def test_m95_fixed_identity(m95, cmd, line):
    assert m95.cmd(cmd) == cmd.encode() + b"\r\r\n" + line + b"\r\n\r\nOK\r\n"


@pytest.mark.parametrize("model,tac", [("ec25", "86675804"), ("m95", "86205403")])
def test_imei_is_bare_luhn_valid_and_the_same_on_both_commands(modemsim, model, tac):
    t = modemsim(model=model).open()
    imei = info_line(t, "AT+GSN")
    assert re.fullmatch(r"\d{15}", imei)
    assert imei.startswith(tac)
    assert luhn_ok(imei)
    assert info_line(t, "AT+CGSN") == imei


@pytest.mark.parametrize("model", ["ec25", "m95"])
def test_imsi_is_bare_on_the_test_network(modemsim, model):
    t = modemsim(model=model).open()
    imsi = info_line(t, "AT+CIMI")
    assert re.fullmatch(r"00101\d{10}", imsi)


def test_identities_differ_between_modems_and_follow_the_seed(modemsim):
    sim = modemsim(model="ec25", count=2)
    a, b = sim.open(0), sim.open(1)
    assert info_line(a, "AT+GSN") != info_line(b, "AT+GSN")
    assert info_line(a, "AT+CIMI") != info_line(b, "AT+CIMI")
    again = modemsim(model="ec25").open()
    assert info_line(again, "AT+GSN") == info_line(a, "AT+GSN")


def test_ec25_qccid_has_its_prefix(ec25):
    line = info_line(ec25, "AT+QCCID")
    m = re.fullmatch(r"\+QCCID: (89\d+)", line)
    assert m, line
    assert luhn_ok(m.group(1))


def test_m95_ccid_is_quoted_and_qccid_bare(m95):
    ccid = info_line(m95, "AT+CCID")
    m = re.fullmatch(r'\+CCID: "(89\d+)"', ccid)
    assert m, ccid
    assert info_line(m95, "AT+QCCID") == m.group(1)


@pytest.mark.parametrize("cmd", ["AT+CGMI=?", "AT+GMI=?", "AT+CGMM=?", "AT+GMM=?", "AT+GMR=?",
                                 "AT+CGMR=?", "AT+QGMR=?", "AT+CGSN=?", "AT+GSN=?", "AT+CIMI=?",
                                 "AT+QCCID=?"])
def test_ec25_test_forms_answer_ok(ec25, cmd):
    assert ec25.cmd(cmd) == cmd.encode() + b"\r\r\nOK\r\n"


@pytest.mark.parametrize("cmd", ["AT+CGMI=?", "AT+CGMR=?", "AT+GSN=?", "AT+CIMI=?",
                                 "AT+CCID=?", "AT+QCCID=?"])
def test_m95_test_forms_answer_ok(m95, cmd):
    assert m95.cmd(cmd) == cmd.encode() + b"\r\r\nOK\r\n"


@pytest.mark.parametrize("cmd", ["AT+CGMI?", "AT+GSN?", "AT+CIMI=1", "AT+QGMR=0",
                                 "AT+CGMM=\"x\"", "AT+QCCID?"])
def test_ec25_forms_that_do_not_exist_fail(ec25, cmd):
    assert ec25.cmd(cmd) == cmd.encode() + b"\r\r\nERROR\r\n"


def test_m95_has_no_qgmr(m95):
    assert m95.cmd("AT+QGMR") == b"AT+QGMR\r\r\nERROR\r\n"


def test_v0_framing_has_no_leading_crlf(ec25):
    imei = info_line(ec25, "AT+GSN")
    ec25.write(b"ATV0\r")
    ec25.expect(b"ATV0\r0\r")
    ec25.write(b"AT+GSN\r")
    ec25.expect(b"AT+GSN\r" + imei.encode() + b"\r\n0\r")
    ec25.write(b"ATV1\r")
    ec25.expect(b"ATV1\r\r\nOK\r\n")


def test_concatenated_identity_commands(ec25):
    imei = info_line(ec25, "AT+GSN")
    out = ec25.cmd("AT+CGMI;+CGMM;+GSN")
    assert out == (b"AT+CGMI;+CGMM;+GSN\r\r\nQuectel\r\n\r\nEC25\r\n\r\n" + imei.encode() +
                   b"\r\n\r\nOK\r\n")


def test_echo_off_identity(m95):
    assert m95.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert m95.cmd("AT+CGMI") == b"\r\nQuectel_Ltd\r\n\r\nOK\r\n"
