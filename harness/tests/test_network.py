"""Status and network commands on both models, byte for byte (reference §7, 3GPP TS 27.007):
SIM state, registration and its URC modes, operator, signal, clock, functionality, reboot,
power down and NTP, with the bad inputs each must refuse."""
import calendar
import re
import time

import pytest
from modemsim_harness.at import err, ok, quiet

EC25_BOOT = (b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n"
             b"\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n")
M95_BOOT = b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n"

EC25_LOC = b',"2B44","1A2D101",7'
M95_LOC = b',"2B44","0C5F"'


def cclk_utc(text):
    """Seconds since the epoch (UTC) of a +CCLK time "yy/MM/dd,hh:mm:ss±zz"."""
    m = re.fullmatch(r"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d\d)", text)
    assert m, text
    y, mo, d, h, mi, s, tz = (int(g) for g in m.groups())
    return calendar.timegm((2000 + y, mo, d, h, mi, s)) - tz * 15 * 60


def read_cclk(t):
    out = t.cmd("AT+CCLK?")
    m = re.fullmatch(rb'AT\+CCLK\?\r\r\n\+CCLK: "([^"]+)"\r\n\r\nOK\r\n', out)
    assert m, out
    return m.group(1).decode()


# ---- +CPIN ----

@pytest.mark.parametrize("model", ["ec25", "m95"])
def test_cpin_ready(modemsim, model):
    t = modemsim(model=model).open()
    assert t.cmd("AT+CPIN?") == ok("AT+CPIN?", b"+CPIN: READY")
    assert t.cmd("AT+CPIN=?") == ok("AT+CPIN=?")
    assert t.cmd("AT+CPIN") == err("AT+CPIN")


# ---- registration: read, write, test ----

@pytest.mark.parametrize("cmd", ["+CREG", "+CGREG", "+CEREG"])
def test_ec25_registration_read_write_test(ec25, cmd):
    name = cmd.encode()
    assert ec25.cmd("AT%s?" % cmd) == ok("AT%s?" % cmd, name + b": 0,1")
    assert ec25.cmd("AT%s=?" % cmd) == ok("AT%s=?" % cmd, name + b": (0-2)")
    assert ec25.cmd("AT%s=1" % cmd) == ok("AT%s=1" % cmd)
    assert ec25.cmd("AT%s?" % cmd) == ok("AT%s?" % cmd, name + b": 1,1")
    assert ec25.cmd("AT%s=2" % cmd) == ok("AT%s=2" % cmd)
    assert ec25.cmd("AT%s?" % cmd) == ok("AT%s?" % cmd, name + b": 2,1" + EC25_LOC)
    # <n> omitted is 0 (27.007 7.2)
    assert ec25.cmd("AT%s=" % cmd) == ok("AT%s=" % cmd)
    assert ec25.cmd("AT%s?" % cmd) == ok("AT%s?" % cmd, name + b": 0,1")


@pytest.mark.parametrize("cmd", ["+CREG", "+CGREG"])
def test_m95_registration_read_write_test(m95, cmd):
    name = cmd.encode()
    assert m95.cmd("AT%s?" % cmd) == ok("AT%s?" % cmd, name + b": 0,1")
    assert m95.cmd("AT%s=?" % cmd) == ok("AT%s=?" % cmd, name + b": (0-2)")
    assert m95.cmd("AT%s=2" % cmd) == ok("AT%s=2" % cmd)
    assert m95.cmd("AT%s?" % cmd) == ok("AT%s?" % cmd, name + b": 2,1" + M95_LOC)


def test_m95_has_no_cereg(m95):
    for cmd in ("AT+CEREG?", "AT+CEREG=1", "AT+CEREG=?"):
        assert m95.cmd(cmd) == err(cmd)


@pytest.mark.parametrize("cmd", ["AT+CREG=3", "AT+CREG=-1", "AT+CREG=1,1", "AT+CREG=\"1\"",
                                 "AT+CREG=one", "AT+CGREG=9", "AT+CEREG=2,0", "AT+CREG"])
def test_registration_bad_inputs(ec25, cmd):
    assert ec25.cmd(cmd) == err(cmd)
    assert ec25.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 0,1")


# ---- registration URCs ----

def test_creg_urc_n1_comes_after_ok(ec25):
    ec25.cmd("AT+CREG=1")
    ec25.write(b"AT+CFUN=0\r")
    ec25.expect(b"AT+CFUN=0\r\r\nOK\r\n\r\n+CREG: 0\r\n")
    quiet(ec25)
    assert ec25.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 1,0")
    ec25.write(b"AT+CFUN=1\r")
    ec25.expect(b"AT+CFUN=1\r\r\nOK\r\n\r\n+CREG: 1\r\n")
    quiet(ec25)
    assert ec25.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 1,1")


def test_all_three_urcs_in_mode_2_on_ec25(ec25):
    ec25.cmd("AT+CREG=2;+CGREG=1;+CEREG=2")
    ec25.write(b"AT+CFUN=4\r")
    ec25.expect(b"AT+CFUN=4\r\r\nOK\r\n\r\n+CREG: 0\r\n\r\n+CGREG: 0\r\n\r\n+CEREG: 0\r\n")
    ec25.write(b"AT+CFUN=1\r")
    ec25.expect(b"AT+CFUN=1\r\r\nOK\r\n\r\n+CREG: 1" + EC25_LOC + b"\r\n\r\n+CGREG: 1\r\n"
                b"\r\n+CEREG: 1" + EC25_LOC + b"\r\n")
    quiet(ec25)


def test_m95_creg_urc_with_location(m95):
    m95.cmd("AT+CREG=2")
    m95.write(b"AT+CFUN=0\r")
    m95.expect(b"AT+CFUN=0\r\r\nOK\r\n\r\n+CREG: 0\r\n")
    m95.write(b"AT+CFUN=1\r")
    m95.expect(b"AT+CFUN=1\r\r\nOK\r\n\r\n+CREG: 1" + M95_LOC + b"\r\n")
    quiet(m95)


def test_mode_0_sends_no_urc(ec25):
    ec25.write(b"AT+CFUN=0\r")
    ec25.expect(b"AT+CFUN=0\r\r\nOK\r\n")
    quiet(ec25)
    ec25.write(b"AT+CFUN=1\r")
    ec25.expect(b"AT+CFUN=1\r\r\nOK\r\n")
    quiet(ec25)


def test_no_urc_when_state_does_not_change(ec25):
    ec25.cmd("AT+CREG=1")
    ec25.write(b"AT+CFUN=1\r")
    ec25.expect(b"AT+CFUN=1\r\r\nOK\r\n")
    quiet(ec25)
    ec25.write(b"AT+CFUN=0\r")
    ec25.expect(b"AT+CFUN=0\r\r\nOK\r\n\r\n+CREG: 0\r\n")
    ec25.write(b"AT+CFUN=4\r")
    ec25.expect(b"AT+CFUN=4\r\r\nOK\r\n")
    quiet(ec25)


def test_realistic_registration_comes_later_and_after_ok(modemsim):
    t = modemsim("--time-scale", "0.5", model="ec25", timing="realistic").open()
    t.cmd("AT+CREG=1")
    t.write(b"AT+CFUN=0\r")
    t.expect(b"AT+CFUN=0\r\r\nOK\r\n\r\n+CREG: 0\r\n")
    t.write(b"AT+CFUN=1\r")
    t.expect(b"AT+CFUN=1\r\r\nOK\r\n")
    # still searching right after OK: the network takes the modem back later
    assert t.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 1,0")
    t.expect(b"\r\n+CREG: 1\r\n", timeout=5)
    assert t.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 1,1")


# ---- +COPS ----

def test_cops_read_both_models(modemsim):
    e = modemsim(model="ec25").open()
    m = modemsim(model="m95").open()
    assert e.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 0,0,"modemsim",7')
    assert m.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 0,0,"modemsim"')


def test_cops_scan(modemsim):
    e = modemsim(model="ec25").open()
    m = modemsim(model="m95").open()
    assert e.cmd("AT+COPS=?") == ok("AT+COPS=?",
                                    b'+COPS: (2,"modemsim","modemsim","00101",7),,(0-4),(0-2)')
    assert m.cmd("AT+COPS=?") == ok("AT+COPS=?",
                                    b'+COPS: (2,"modemsim","modemsim","00101"),,(0-4),(0-2)')


def test_cops_formats_and_manual_selection(ec25):
    assert ec25.cmd("AT+COPS=3,2") == ok("AT+COPS=3,2")
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 0,2,"00101",7')
    assert ec25.cmd("AT+COPS=3,1") == ok("AT+COPS=3,1")
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 0,1,"modemsim",7')
    assert ec25.cmd('AT+COPS=1,2,"00101"') == ok('AT+COPS=1,2,"00101"')
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 1,2,"00101",7')
    # an operator not in range: +CME ERROR: 30 (no network service); EC25 CMEE default 1
    assert ec25.cmd('AT+COPS=1,2,"99999"') == err('AT+COPS=1,2,"99999"', b"+CME ERROR: 30")
    assert ec25.cmd("AT+COPS=0,0") == ok("AT+COPS=0,0")
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 0,0,"modemsim",7')


def test_cops_deregister_and_back(ec25):
    ec25.cmd("AT+CREG=1")
    ec25.write(b"AT+COPS=2\r")
    ec25.expect(b"AT+COPS=2\r\r\nOK\r\n\r\n+CREG: 0\r\n")
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b"+COPS: 2")
    # the radio coming back does not register while deregistered by +COPS=2
    ec25.cmd("AT+CFUN=0")
    ec25.write(b"AT+CFUN=1\r")
    ec25.expect(b"AT+CFUN=1\r\r\nOK\r\n")
    quiet(ec25)
    ec25.write(b"AT+COPS=0\r")
    ec25.expect(b"AT+COPS=0\r\r\nOK\r\n\r\n+CREG: 1\r\n")
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b'+COPS: 0,0,"modemsim",7')


@pytest.mark.parametrize("cmd", ["AT+COPS=5", "AT+COPS=0,3", "AT+COPS=1", "AT+COPS=3",
                                 "AT+COPS=1,2,00101", "AT+COPS=\"0\"", "AT+COPS",
                                 "AT+COPS=0,0,\"modemsim\",7,1"])
def test_cops_bad_inputs(ec25, cmd):
    assert ec25.cmd(cmd) == err(cmd)


def test_m95_cops_has_no_act_parameter(m95):
    assert m95.cmd('AT+COPS=1,0,"modemsim",0') == err('AT+COPS=1,0,"modemsim",0')
    assert m95.cmd('AT+COPS=1,0,"modemsim"') == ok('AT+COPS=1,0,"modemsim"')


def test_cops_scan_without_radio(ec25):
    ec25.cmd("AT+CFUN=4")
    assert ec25.cmd("AT+COPS=?") == err("AT+COPS=?", b"+CME ERROR: 30")


# ---- signal and serving cell ----

def test_csq_both_models(modemsim):
    e = modemsim(model="ec25").open()
    m = modemsim(model="m95").open()
    assert e.cmd("AT+CSQ") == ok("AT+CSQ", b"+CSQ: 25,99")
    assert m.cmd("AT+CSQ") == ok("AT+CSQ", b"+CSQ: 22,0")
    assert e.cmd("AT+CSQ=?") == ok("AT+CSQ=?", b"+CSQ: (0-31,99),(0-7,99)")
    assert e.cmd("AT+CSQ?") == err("AT+CSQ?")
    assert e.cmd("AT+CSQ=1") == err("AT+CSQ=1")


def test_ec25_qcsq_and_qnwinfo(ec25):
    assert ec25.cmd("AT+QCSQ") == ok("AT+QCSQ", b'+QCSQ: "LTE",-63,-93,150,-10')
    assert ec25.cmd("AT+QNWINFO") == ok("AT+QNWINFO",
                                        b'+QNWINFO: "FDD LTE","00101","LTE BAND 3",1300')
    assert ec25.cmd("AT+QNWINFO=?") == ok("AT+QNWINFO=?")
    assert ec25.cmd("AT+QNWINFO?") == err("AT+QNWINFO?")
    assert ec25.cmd("AT+QCSQ=1") == err("AT+QCSQ=1")


def test_m95_has_no_lte_status_commands(m95):
    for cmd in ("AT+QCSQ", "AT+QNWINFO", 'AT+QNTP=1,"pool.ntp.org"'):
        assert m95.cmd(cmd) == err(cmd)


def test_no_service_without_radio(ec25):
    ec25.cmd("AT+CFUN=0")
    assert ec25.cmd("AT+CSQ") == ok("AT+CSQ", b"+CSQ: 99,99")
    assert ec25.cmd("AT+QCSQ") == ok("AT+QCSQ", b'+QCSQ: "NOSERVICE"')
    assert ec25.cmd("AT+QNWINFO") == ok("AT+QNWINFO", b"+QNWINFO: No Service")
    assert ec25.cmd("AT+COPS?") == ok("AT+COPS?", b"+COPS: 0")
    assert ec25.cmd("AT+CEREG?") == ok("AT+CEREG?", b"+CEREG: 0,0")
    assert ec25.cmd("AT+CEREG=2;+CEREG?") == ok("AT+CEREG=2;+CEREG?", b"+CEREG: 2,0")


def test_ec25_bring_up_of_the_field_log(ec25):
    """seeds/000: the EC25 bring-up a real AWS client sends, each reply framed as the
    capture shows it (info line, blank line, OK)."""
    replies = {}
    for cmd in ("AT+CPIN?", "AT+CREG?", "AT+CEREG?", "AT+QNWINFO", "AT+QCSQ", "AT+GSN",
                "AT+COPS?", "AT+GMR"):
        out = ec25.cmd(cmd)
        m = re.fullmatch(re.escape(cmd.encode()) + rb"\r\r\n([^\r\n]+)\r\n\r\nOK\r\n", out)
        assert m, "%s: %r" % (cmd, out)
        replies[cmd] = m.group(1)
    assert replies["AT+CPIN?"] == b"+CPIN: READY"
    assert re.fullmatch(rb"\+CREG: 0,[15]", replies["AT+CREG?"])
    assert re.fullmatch(rb"\+CEREG: 0,[15]", replies["AT+CEREG?"])
    assert re.fullmatch(rb'\+QNWINFO: "FDD LTE","\d{5,6}","LTE BAND \d+",\d+',
                        replies["AT+QNWINFO"])
    assert re.fullmatch(rb'\+QCSQ: "LTE",-?\d+,-\d+,\d+,-\d+', replies["AT+QCSQ"])
    assert re.fullmatch(rb"\d{15}", replies["AT+GSN"])
    assert re.fullmatch(rb'\+COPS: 0,0,"[^"]+",7', replies["AT+COPS?"])
    assert re.fullmatch(rb"EC25[A-Z0-9]+", replies["AT+GMR"])
    quiet(ec25)


# ---- +CCLK ----

@pytest.mark.parametrize("model", ["ec25", "m95"])
def test_cclk_reads_the_host_utc_time(modemsim, model):
    t = modemsim(model=model).open()
    text = read_cclk(t)
    assert text.endswith("+00")
    assert abs(cclk_utc(text) - time.time()) < 5
    assert t.cmd("AT+CCLK=?") == ok("AT+CCLK=?")


def test_cclk_set_then_read_back(ec25):
    assert ec25.cmd('AT+CCLK="24/02/29,23:59:58-08"') == ok('AT+CCLK="24/02/29,23:59:58-08"')
    text = read_cclk(ec25)
    assert re.fullmatch(r"24/02/29,23:59:5\d-08|24/03/01,00:00:0\d-08", text), text
    assert abs(cclk_utc(text) - cclk_utc("24/02/29,23:59:58-08")) < 5
    # the RTC keeps running from the new time and survives a reboot, like a real RTC
    ec25.write(b"AT+CFUN=1,1\r")
    ec25.expect(b"AT+CFUN=1,1\r\r\nOK\r\n" + EC25_BOOT)
    assert abs(cclk_utc(read_cclk(ec25)) - cclk_utc("24/02/29,23:59:58-08")) < 5


def test_cclk_positive_zone(m95):
    assert m95.cmd('AT+CCLK="30/12/31,23:00:00+56"') == ok('AT+CCLK="30/12/31,23:00:00+56"')
    text = read_cclk(m95)
    assert text.startswith("30/12/31,23:00:0") and text.endswith("+56"), text


@pytest.mark.parametrize("arg", [
    '"24/13/01,00:00:00+00"', '"23/02/29,00:00:00+00"', '"24/04/31,00:00:00+00"',
    '"24/01/01,24:00:00+00"', '"24/01/01,00:60:00+00"', '"24/01/01,00:00:60+00"',
    '"24/01/00,00:00:00+00"', '"24/01/01,00:00:00+57"', '"24/01/01,00:00:00-49"',
    '"24/01/01,00:00:00"', '"24/1/01,00:00:00+00"', '"24-01-01,00:00:00+00"',
    '"24/01/01 00:00:00+00"', '"24/01/01,00:00:00+0a"', '""', "24",
    '24/01/01,00:00:00+00', '"24/01/01,00:00:00+00",1'])
def test_cclk_bad_inputs(ec25, arg):
    before = read_cclk(ec25)
    cmd = "AT+CCLK=" + arg
    assert ec25.cmd(cmd) == err(cmd)
    assert abs(cclk_utc(read_cclk(ec25)) - cclk_utc(before)) < 5


# ---- +CFUN ----

@pytest.mark.parametrize("model", ["ec25", "m95"])
def test_cfun_read_write_test(modemsim, model):
    t = modemsim(model=model).open()
    assert t.cmd("AT+CFUN?") == ok("AT+CFUN?", b"+CFUN: 1")
    assert t.cmd("AT+CFUN=?") == ok("AT+CFUN=?", b"+CFUN: (0,1,4),(0,1)")
    assert t.cmd("AT+CFUN=4") == ok("AT+CFUN=4")
    assert t.cmd("AT+CFUN?") == ok("AT+CFUN?", b"+CFUN: 4")
    assert t.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 0,0")
    assert t.cmd("AT+CFUN=1,0") == ok("AT+CFUN=1,0")
    assert t.cmd("AT+CFUN?") == ok("AT+CFUN?", b"+CFUN: 1")
    assert t.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 0,1")


@pytest.mark.parametrize("cmd", ["AT+CFUN=2", "AT+CFUN=3", "AT+CFUN=5", "AT+CFUN=0,1",
                                 "AT+CFUN=4,1", "AT+CFUN=1,2", "AT+CFUN=\"1\"", "AT+CFUN=1,1,1",
                                 "AT+CFUN=", "AT+CFUN=,1"])
def test_cfun_bad_inputs(ec25, cmd):
    assert ec25.cmd(cmd) == err(cmd)
    assert ec25.cmd("AT+CFUN?") == ok("AT+CFUN?", b"+CFUN: 1")
    quiet(ec25)


@pytest.mark.parametrize("model,boot", [("ec25", EC25_BOOT), ("m95", M95_BOOT)])
def test_cfun_1_1_reboots_after_ok(modemsim, model, boot):
    t = modemsim(model=model).open()
    t.cmd("AT+CREG=1;+CMEE=2;+CFUN=4")
    t.expect(b"\r\n+CREG: 0\r\n")
    t.write(b"AT+CFUN=1,1\r")
    t.expect(b"AT+CFUN=1,1\r\r\nOK\r\n" + boot)
    quiet(t)
    # volatile settings are back to their defaults, the modem is registered again
    assert t.cmd("AT+CREG?") == ok("AT+CREG?", b"+CREG: 0,1")
    assert t.cmd("AT+CFUN?") == ok("AT+CFUN?", b"+CFUN: 1")
    cmee = b"1" if model == "ec25" else b"0"
    assert t.cmd("AT+CMEE?") == ok("AT+CMEE?", b"+CMEE: " + cmee)


def test_cfun_reboot_drops_pending_urcs(modemsim):
    t = modemsim("--time-scale", "0.1", model="ec25", timing="realistic").open()
    t.write(b'AT+QNTP=1,"pool.ntp.org";+CFUN=1,1\r')
    t.expect(b'AT+QNTP=1,"pool.ntp.org";+CFUN=1,1\r\r\nOK\r\n')
    out = t.read_until(b"+QIND: PB DONE\r\n", timeout=5)
    assert out == EC25_BOOT
    assert t.drain(0.3) == b""


# ---- power down ----

def test_ec25_qpowd_powers_down_then_boots(ec25):
    ec25.write(b"AT+QPOWD\r")
    ec25.expect(b"AT+QPOWD\r\r\nOK\r\n\r\nPOWERED DOWN\r\n" + EC25_BOOT)
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"
    ec25.write(b"AT+QPOWD=0\r")
    ec25.expect(b"AT+QPOWD=0\r\r\nOK\r\n\r\nPOWERED DOWN\r\n" + EC25_BOOT)
    # nothing after it on the same line runs: the module is going down
    ec25.write(b"AT+QPOWD;+CSQ\r")
    ec25.expect(b"AT+QPOWD;+CSQ\r\r\nOK\r\n\r\nPOWERED DOWN\r\n" + EC25_BOOT)
    assert ec25.cmd("AT+QPOWD=?") == ok("AT+QPOWD=?", b"+QPOWD: (0,1)")
    for cmd in ("AT+QPOWD=2", "AT+QPOWD=1,1", "AT+QPOWD?", 'AT+QPOWD="1"'):
        assert ec25.cmd(cmd) == err(cmd)


def test_powered_down_modem_ignores_input(modemsim):
    t = modemsim("--time-scale", "0.4", model="ec25", timing="realistic").open()
    t.write(b"AT+QPOWD=1\r")
    t.expect(b"AT+QPOWD=1\r\r\nOK\r\n\r\nPOWERED DOWN\r\n")
    t.write(b"AT+CSQ\r")
    t.write(b"ATI\r")
    # off for 5 s x 0.4: no echo, no answer, then the boot URCs as after power-on
    assert t.drain(0.6, timeout=1.2) == b""
    out = t.read_until(b"+QIND: PB DONE\r\n", timeout=5)
    assert out == EC25_BOOT
    assert t.cmd("AT+CSQ") == ok("AT+CSQ", b"+CSQ: 25,99")


def test_m95_qpowd(m95):
    m95.write(b"AT+QPOWD=1\r")
    m95.expect(b"AT+QPOWD=1\r\r\nNORMAL POWER DOWN\r\n" + M95_BOOT)
    m95.write(b"AT+QPOWD=0\r")
    m95.expect(b"AT+QPOWD=0\r\r\nOK\r\n" + M95_BOOT)
    assert m95.cmd("AT+QPOWD=?") == ok("AT+QPOWD=?", b"+QPOWD: (0,1)")
    for cmd in ("AT+QPOWD", "AT+QPOWD=2", "AT+QPOWD?"):
        assert m95.cmd(cmd) == err(cmd)


# ---- +QNTP ----

NTP_URC = re.compile(rb'\r\n\+QNTP: 0,"(\d{4})/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d\d)"\r\n')


def ntp_utc(m):
    y, mo, d, h, mi, s, tz = (int(g) for g in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s)) - tz * 15 * 60


def test_qntp_urc_after_ok_sets_the_rtc(ec25):
    ec25.cmd('AT+CCLK="24/01/01,00:00:00+08"')
    ec25.write(b'AT+QNTP=1,"pool.ntp.org"\r')
    ec25.expect(b'AT+QNTP=1,"pool.ntp.org"\r\r\nOK\r\n')
    urc = ec25.read_until(NTP_URC)
    m = NTP_URC.fullmatch(urc)
    assert m, urc
    assert m.group(7) == b"+08"
    assert abs(ntp_utc(m) - time.time()) < 5
    text = read_cclk(ec25)
    assert text.endswith("+08")
    assert abs(cclk_utc(text) - time.time()) < 5


def test_qntp_without_autosettime_leaves_the_rtc(ec25):
    ec25.cmd('AT+CCLK="24/01/01,00:00:00+00"')
    ec25.write(b'AT+QNTP=1,"pool.ntp.org",123,0\r')
    ec25.expect(b'AT+QNTP=1,"pool.ntp.org",123,0\r\r\nOK\r\n')
    m = NTP_URC.fullmatch(ec25.read_until(NTP_URC))
    assert abs(ntp_utc(m) - time.time()) < 5
    assert abs(cclk_utc(read_cclk(ec25)) - cclk_utc("24/01/01,00:00:00+00")) < 5


def test_qntp_read_while_running_and_busy(modemsim):
    t = modemsim("--time-scale", "0.8", model="ec25", timing="realistic").open()
    assert t.cmd("AT+QNTP?") == ok("AT+QNTP?")
    t.write(b'AT+QNTP=1,"time.example.org",1123\r')
    t.expect(b'AT+QNTP=1,"time.example.org",1123\r\r\nOK\r\n')
    assert t.cmd("AT+QNTP?") == ok("AT+QNTP?", b'+QNTP: "time.example.org",1123')
    assert t.cmd('AT+QNTP=1,"pool.ntp.org"') == err('AT+QNTP=1,"pool.ntp.org"')
    t.read_until(NTP_URC, timeout=5)
    assert t.cmd("AT+QNTP?") == ok("AT+QNTP?")


def test_qntp_without_network_fails_with_561(ec25):
    ec25.cmd("AT+CFUN=0")
    ec25.write(b'AT+QNTP=1,"pool.ntp.org"\r')
    ec25.expect(b'AT+QNTP=1,"pool.ntp.org"\r\r\nOK\r\n\r\n+QNTP: 561\r\n')
    quiet(ec25)


def test_qntp_test_form(ec25):
    assert ec25.cmd("AT+QNTP=?") == ok("AT+QNTP=?", b"+QNTP: (1-16),<server>,(1-65535),(0,1)")


@pytest.mark.parametrize("cmd", ['AT+QNTP=0,"pool.ntp.org"', 'AT+QNTP=17,"pool.ntp.org"',
                                 "AT+QNTP=1", 'AT+QNTP=1,""', "AT+QNTP=1,123",
                                 "AT+QNTP=1,pool.ntp.org", 'AT+QNTP=1,"pool.ntp.org",0',
                                 'AT+QNTP=1,"pool.ntp.org",65536', 'AT+QNTP=1,"pool.ntp.org",123,2',
                                 'AT+QNTP=1,"pool.ntp.org",123,1,1', 'AT+QNTP="1","pool.ntp.org"',
                                 "AT+QNTP"])
def test_qntp_bad_inputs(ec25, cmd):
    assert ec25.cmd(cmd) == err(cmd)
    quiet(ec25)
