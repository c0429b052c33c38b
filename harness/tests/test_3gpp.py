"""The 3GPP TS 27.007/27.005 commands hosts send besides the Quectel ones (sim/at/cmd_3gpp.c),
byte for byte: +CGATT +CGDCONT +CGACT +CGPADDR, +CTZR +CTZU (EC25, BG96) or +QNITZ (M95),
+CMGF +CNMI +CSCS +QSCLK +CBC. On the EC25 and BG96 the +CGDCONT contexts are +QICSGP's and
+CGACT activates as +QIACT does; +CGATT=0 takes the contexts down as the network would."""
import pytest

from modemsim_harness.at import check, err, ok, reboot

# Simulated addresses (sim/modem/pdp.c): 10.(100 + index/256).(index%256).(16*cid - 3).
IP_CID1 = "10.100.0.13"
IP_CID2 = "10.100.0.29"
ZERO6 = "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
# fd00:a:0:2::1 as 16 dotted bytes, the Qualcomm way
IP6_CID2 = "253.0.0.10.0.0.0.2.0.0.0.0.0.0.0.1"


@pytest.fixture(params=["ec25", "bg96"])
def lte(request, modemsim):
    """Each LTE model (the same Qualcomm platform: one family of these commands)."""
    t = modemsim(model=request.param).open()
    t.model = request.param
    return t


# ---------------------------------------------------------------- test forms

LTE_TESTS = [
    ("AT+CGATT=?", ["+CGATT: (0,1)"]),
    ("AT+CGDCONT=?", ['+CGDCONT: (1-24),"IP",,,(0-2),(0-4),(0-1),(0-1)',
                      '+CGDCONT: (1-24),"PPP",,,(0-2),(0-4),(0-1),(0-1)',
                      '+CGDCONT: (1-24),"IPV6",,,(0-2),(0-4),(0-1),(0-1)',
                      '+CGDCONT: (1-24),"IPV4V6",,,(0-2),(0-4),(0-1),(0-1)']),
    ("AT+CGACT=?", ["+CGACT: (0,1)"]),
    ("AT+CGPADDR=?", ["+CGPADDR: (1)"]),
    ("AT+CTZR=?", ["+CTZR: (0-2)"]),
    ("AT+CTZU=?", ["+CTZU: (0,1,3)"]),
    ("AT+CMGF=?", ["+CMGF: (0,1)"]),
    ("AT+CNMI=?", ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"]),
    ("AT+CSCS=?", ['+CSCS: ("GSM","IRA","UCS2")']),
    ("AT+QSCLK=?", ["+QSCLK: (0,1)"]),
    ("AT+CBC=?", ["+CBC: (0-2),(1-100),(voltage)"]),
]

M95_TESTS = [
    ("AT+CGATT=?", ["+CGATT: (0,1)"]),
    ("AT+CGDCONT=?", ['+CGDCONT: (1-3),"IP",,,(0-2),(0-4)', '+CGDCONT: (1-3),"PPP",,,(0-2),(0-4)']),
    ("AT+CGACT=?", ["+CGACT: (0,1)"]),
    ("AT+CGPADDR=?", ["+CGPADDR: ()"]),
    ("AT+CTZR=?", ["+CTZR: (0,1)"]),
    ("AT+QNITZ=?", ["+QNITZ: (0,1)"]),
    ("AT+CMGF=?", ["+CMGF: (0,1)"]),
    ("AT+CNMI=?", ["+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"]),
    ("AT+CSCS=?", ['+CSCS: ("GSM","HEX","IRA","PCCP936","UCS2")']),
    ("AT+QSCLK=?", ["+QSCLK: (0-2)"]),
    ("AT+CBC=?", ["+CBC: (0-2),(1-100),(voltage)"]),
]


def test_lte_test_forms(lte):
    for cmd, lines in LTE_TESTS:
        check(lte, cmd, ok(cmd, *lines))


def test_m95_test_forms(m95):
    for cmd, lines in M95_TESTS:
        check(m95, cmd, ok(cmd, *lines))


LTE_DEFAULTS = [
    ("AT+CGATT?", ["+CGATT: 1"]),
    ("AT+CGDCONT?", ['+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0']),
    ("AT+CGACT?", ["+CGACT: 1,0"]),
    ("AT+CGPADDR", ['+CGPADDR: 1,"0.0.0.0"']),
    ("AT+CGPADDR=1", ['+CGPADDR: 1,"0.0.0.0"']),
    ("AT+CTZR?", ["+CTZR: 0"]),
    ("AT+CTZU?", ["+CTZU: 0"]),
    ("AT+CMGF?", ["+CMGF: 0"]),
    ("AT+CNMI?", ["+CNMI: 2,1,0,0,0"]),
    ("AT+CSCS?", ['+CSCS: "GSM"']),
    ("AT+QSCLK?", ["+QSCLK: 0"]),
    ("AT+CBC", ["+CBC: 0,75,3800"]),
]

M95_DEFAULTS = [
    ("AT+CGATT?", ["+CGATT: 1"]),
    ("AT+CGDCONT?", []),
    ("AT+CGACT?", []),
    ("AT+CGPADDR", []),
    ("AT+CTZR?", ["+CTZR: 0"]),
    ("AT+QNITZ?", ["+QNITZ: 0"]),
    ("AT+CMGF?", ["+CMGF: 0"]),
    ("AT+CNMI?", ["+CNMI: 2,1,0,0,0"]),
    ("AT+CSCS?", ['+CSCS: "GSM"']),
    ("AT+QSCLK?", ["+QSCLK: 0"]),
    ("AT+CBC", ["+CBC: 0,75,3800"]),
]


def test_lte_defaults(lte):
    for cmd, lines in LTE_DEFAULTS:
        check(lte, cmd, ok(cmd, *lines))


def test_m95_defaults(m95):
    for cmd, lines in M95_DEFAULTS:
        check(m95, cmd, ok(cmd, *lines))


def test_commands_a_model_does_not_have(lte, m95):
    # +CSCLK is SIMCom's: a Quectel module answers ERROR (it sleeps with +QSCLK)
    for t in (lte, m95):
        for cmd in ("AT+CSCLK?", "AT+CSCLK=1", "AT+CSCLK=?"):
            check(t, cmd, err(cmd))
    for cmd in ("AT+QNITZ?", "AT+QNITZ=1"):
        check(lte, cmd, err(cmd))
    for cmd in ("AT+CTZU?", "AT+CTZU=1"):
        check(m95, cmd, err(cmd))


def test_forms_a_command_does_not_have(lte):
    for cmd in ("AT+CGATT", "AT+CGDCONT", "AT+CGACT", "AT+CGPADDR?", "AT+CTZR", "AT+CMGF",
                "AT+CBC?", "AT+CBC=1", "AT+CSCS"):
        check(lte, cmd, err(cmd))


# ---------------------------------------------------------------- +CGATT


def test_cgatt_detach_takes_contexts_down_with_their_urcs(lte):
    lte.cmd("AT+CGREG=1")
    lte.cmd("AT+CEREG=1")
    lte.cmd("AT+CREG=1")
    lte.cmd("AT+QIACT=1")
    lte.cmd('AT+QICSGP=2,1,"two"')
    lte.cmd("AT+QIACT=2")
    check(lte, "AT+CGATT=0", b"AT+CGATT=0\r\r\nOK\r\n")
    lte.expect(b'\r\n+QIURC: "pdpdeact",1\r\n\r\n+QIURC: "pdpdeact",2\r\n'
               b"\r\n+CGREG: 0\r\n\r\n+CEREG: 0\r\n")
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 0"))
    check(lte, "AT+QIACT?", ok("AT+QIACT?"))
    check(lte, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,0", "+CGACT: 2,0"))
    check(lte, "AT+CGREG?", ok("AT+CGREG?", "+CGREG: 1,0"))
    check(lte, "AT+CEREG?", ok("AT+CEREG?", "+CEREG: 1,0"))
    # the circuit-switched registration stays
    check(lte, "AT+CREG?", ok("AT+CREG?", "+CREG: 1,1"))
    # detaching twice: already in the requested state, no URC
    check(lte, "AT+CGATT=0", b"AT+CGATT=0\r\r\nOK\r\n")
    assert lte.drain() == b""


def test_cgatt_attach_again(lte):
    loc = {"ec25": '"2B44","1A2D101",7', "bg96": '"2B44","C45C010",8'}[lte.model]
    lte.cmd("AT+CGREG=2")
    lte.cmd("AT+CGATT=0")
    lte.expect(b"\r\n+CGREG: 0\r\n")
    check(lte, "AT+CGREG?", ok("AT+CGREG?", "+CGREG: 2,0"))
    check(lte, "AT+CGATT=1", b"AT+CGATT=1\r\r\nOK\r\n")
    lte.expect(b"\r\n+CGREG: 1,%s\r\n" % loc.encode())
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 1"))
    check(lte, "AT+CGREG?", ok("AT+CGREG?", "+CGREG: 2,1," + loc))
    # attached already: OK and nothing else
    check(lte, "AT+CGATT=1", b"AT+CGATT=1\r\r\nOK\r\n")
    assert lte.drain() == b""


def test_cgatt_attach_urc_follows_ok(lte):
    lte.cmd("AT+CGREG=1")
    lte.cmd("AT+CGATT=0")
    lte.expect(b"\r\n+CGREG: 0\r\n")
    lte.write(b"AT+CGATT=1\r")
    lte.expect(b"AT+CGATT=1\r\r\nOK\r\n\r\n+CGREG: 1\r\n")


def test_cgatt_detach_then_qiact_attaches_first(lte):
    lte.cmd("AT+CGREG=1")
    lte.cmd("AT+CGATT=0")
    lte.expect(b"\r\n+CGREG: 0\r\n")
    check(lte, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
    lte.expect(b"\r\n+CGREG: 1\r\n")
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 1"))


def test_cgatt_without_radio_or_network(lte):
    lte.cmd("AT+CFUN=0")
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 0"))
    check(lte, "AT+CGATT=1", err("AT+CGATT=1", "+CME ERROR: 3"))
    check(lte, "AT+CGATT=0", b"AT+CGATT=0\r\r\nOK\r\n")
    lte.cmd("AT+CMEE=2")
    check(lte, "AT+CGATT=1", err("AT+CGATT=1", "+CME ERROR: operation not allowed"))
    lte.cmd("AT+CMEE=0")
    check(lte, "AT+CGATT=1", err("AT+CGATT=1"))
    lte.cmd("AT+CMEE=1;+CFUN=1")
    lte.cmd("AT+COPS=2")
    check(lte, "AT+CGATT=1", err("AT+CGATT=1", "+CME ERROR: 30"))


@pytest.mark.parametrize("line", ["AT+CGATT=2", "AT+CGATT=-1", 'AT+CGATT="1"', "AT+CGATT=1,1",
                                  "AT+CGATT=", "AT+CGATT=a"])
def test_cgatt_bad_values(lte, line):
    check(lte, line, err(line))


def test_m95_cgatt_detach(m95):
    m95.cmd("AT+CGREG=1")
    m95.cmd("AT+QIREGAPP")
    m95.cmd("AT+QIACT")
    check(m95, "AT+CGATT=0", b"AT+CGATT=0\r\r\nOK\r\n")
    m95.expect(b"\r\n+PDP DEACT\r\n\r\n+CGREG: 0\r\n")
    m95.write(b"AT+QISTAT\r")
    m95.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n")
    check(m95, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 0"))
    check(m95, "AT+CREG?", ok("AT+CREG?", "+CREG: 0,1"))
    check(m95, "AT+CGATT=1", b"AT+CGATT=1\r\r\nOK\r\n")
    m95.expect(b"\r\n+CGREG: 1\r\n")


def test_cgatt_attach_takes_time(modemsim):
    t = modemsim(model="ec25", timing="realistic").open()
    t.cmd("AT+CGATT=0")
    import time
    start = time.monotonic()
    check(t, "AT+CGATT=1", b"AT+CGATT=1\r\r\nOK\r\n")
    assert time.monotonic() - start >= 0.3


# ---------------------------------------------------------------- +CGDCONT


def test_cgdcont_is_the_qicsgp_profile(lte):
    check(lte, 'AT+CGDCONT=1,"IP","internet"', b'AT+CGDCONT=1,"IP","internet"\r\r\nOK\r\n')
    check(lte, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"internet","","",0'))
    lte.cmd('AT+QICSGP=2,3,"v6.apn","u","p",2')
    lte.cmd('AT+QICSGP=16,2,"six"')
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", 
        '+CGDCONT: 1,"IP","internet","0.0.0.0",0,0,0,0',
        '+CGDCONT: 2,"IPV4V6","v6.apn","%s",0,0,0,0' % ZERO6,
        '+CGDCONT: 16,"IPV6","six","%s",0,0,0,0' % ZERO6))
    # a +CGDCONT write keeps the profile's credentials
    lte.cmd('AT+CGDCONT=2,"IP","other"')
    check(lte, "AT+QICSGP=2", ok("AT+QICSGP=2", '+QICSGP: 1,"other","u","p",2'))
    check(lte, "AT+CGPADDR=?", ok("AT+CGPADDR=?", "+CGPADDR: (1,2,16)"))


def test_cgdcont_all_fields(lte):
    line = 'AT+CGDCONT=3,"ipv4v6","apn3","",2,4,1,1'
    check(lte, line, ok(line))
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", 
        '+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0',
        '+CGDCONT: 3,"IPV4V6","apn3","%s",2,4,1,1' % ZERO6))
    check(lte, "AT+QICSGP=3", ok("AT+QICSGP=3", '+QICSGP: 3,"apn3","","",0'))


def test_cgdcont_omitted_type_and_apn(lte):
    lte.cmd('AT+CGDCONT=4,"IPV6","a"')
    lte.cmd('AT+CGDCONT=4,,"b"')
    lte.cmd("AT+CGDCONT=5,\"IP\"")
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", 
        '+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0',
        '+CGDCONT: 4,"IPV6","b","%s",0,0,0,0' % ZERO6,
        '+CGDCONT: 5,"IP","","0.0.0.0",0,0,0,0'))


def test_cgdcont_undefine(lte):
    lte.cmd('AT+QICSGP=1,1,"a","u","p",1')
    check(lte, "AT+CGDCONT=1", ok("AT+CGDCONT=1"))
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?"))
    check(lte, "AT+CGACT?", ok("AT+CGACT?"))
    check(lte, "AT+CGPADDR", ok("AT+CGPADDR"))
    check(lte, "AT+CGPADDR=?", ok("AT+CGPADDR=?", "+CGPADDR: ()"))
    check(lte, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"","","",0'))
    # undefining an undefined context is fine
    check(lte, "AT+CGDCONT=9", ok("AT+CGDCONT=9"))


def test_cgdcont_of_an_active_context_is_not_allowed(lte):
    lte.cmd("AT+QIACT=1")
    check(lte, 'AT+CGDCONT=1,"IP","x"', err('AT+CGDCONT=1,"IP","x"', "+CME ERROR: 3"))
    check(lte, "AT+CGDCONT=1", err("AT+CGDCONT=1", "+CME ERROR: 3"))
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", '+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0'))


def test_cgdcont_contexts_above_16(lte):
    check(lte, 'AT+CGDCONT=24,"IP","top"', ok('AT+CGDCONT=24,"IP","top"'))
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", '+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0',
                                                 '+CGDCONT: 24,"IP","top","0.0.0.0",0,0,0,0'))
    check(lte, "AT+CGPADDR=24", ok("AT+CGPADDR=24", '+CGPADDR: 24,"0.0.0.0"'))
    check(lte, "AT+CGACT=1,24", err("AT+CGACT=1,24", "+CME ERROR: 4"))
    check(lte, "AT+CGACT=0,24", ok("AT+CGACT=0,24"))


def test_cgdcont_ppp_is_not_simulated(lte):
    check(lte, 'AT+CGDCONT=2,"PPP","x"', err('AT+CGDCONT=2,"PPP","x"', "+CME ERROR: 4"))


@pytest.mark.parametrize("line", [
    'AT+CGDCONT=0,"IP","a"',
    'AT+CGDCONT=25,"IP","a"',
    'AT+CGDCONT=1,"X25","a"',
    'AT+CGDCONT=1,IP,"a"',
    'AT+CGDCONT=1,"IP",a',
    'AT+CGDCONT="1","IP","a"',
    'AT+CGDCONT=1,"IP","' + "a" * 101 + '"',
    'AT+CGDCONT=1,"IP","a","",3',
    'AT+CGDCONT=1,"IP","a","",0,5',
    'AT+CGDCONT=1,"IP","a","",0,0,2',
    'AT+CGDCONT=1,"IP","a","",0,0,0,2',
    'AT+CGDCONT=1,"IP","a","",0,0,0,0,0',
])
def test_cgdcont_bad_values(lte, line):
    check(lte, line, err(line))
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", '+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0'))


def test_cgdcont_longest_apn(lte):
    apn = "a" * 100
    lte.cmd('AT+CGDCONT=1,"IP","%s"' % apn)
    check(lte, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"%s","","",0' % apn))


def test_cgdcont_survives_reboot(lte):
    lte.cmd('AT+CGDCONT=1,"IP","keep"')
    lte.cmd('AT+CGDCONT=20,"IPV6","high","",0,0,0,1')
    reboot(lte, lte.model)
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", 
        '+CGDCONT: 1,"IP","keep","0.0.0.0",0,0,0,0',
        '+CGDCONT: 20,"IPV6","high","%s",0,0,0,1' % ZERO6))


def test_m95_cgdcont(m95):
    check(m95, 'AT+CGDCONT=1,"IP","cmnet"', ok('AT+CGDCONT=1,"IP","cmnet"'))
    check(m95, 'AT+CGDCONT=3,"PPP","dial","",1,2', ok('AT+CGDCONT=3,"PPP","dial","",1,2'))
    check(m95, "AT+CGDCONT?", ok("AT+CGDCONT?", '+CGDCONT: 1,"IP","cmnet","0.0.0.0",0,0',
                                                 '+CGDCONT: 3,"PPP","dial","0.0.0.0",1,2'))
    check(m95, "AT+CGPADDR=?", ok("AT+CGPADDR=?", "+CGPADDR: (1,3)"))
    # the legacy TCP/IP stack keeps its own APN (+QICSGP/+QIREGAPP)
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "","",""'))
    check(m95, "AT+CGDCONT=3", ok("AT+CGDCONT=3"))
    check(m95, "AT+CGDCONT?", ok("AT+CGDCONT?", '+CGDCONT: 1,"IP","cmnet","0.0.0.0",0,0'))


@pytest.mark.parametrize("line", ['AT+CGDCONT=4,"IP","a"', 'AT+CGDCONT=1,"IPV6","a"',
                                  'AT+CGDCONT=1,"IPV4V6","a"', 'AT+CGDCONT=1,"IP","a","",0,0,0'])
def test_m95_cgdcont_bad_values(m95, line):
    check(m95, line, err(line))


def test_m95_cgdcont_is_lost_on_reboot(m95):
    m95.cmd('AT+CGDCONT=1,"IP","cmnet"')
    reboot(m95, "m95")
    check(m95, "AT+CGDCONT?", ok("AT+CGDCONT?"))


# ---------------------------------------------------------------- +CGACT / +CGPADDR


def test_cgact_activates_as_qiact(lte):
    lte.cmd('AT+CGDCONT=1,"IP","internet"')
    check(lte, "AT+CGACT=1,1", ok("AT+CGACT=1,1"))
    check(lte, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,1"))
    check(lte, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 1,1,1,"%s"' % IP_CID1))
    check(lte, "AT+CGPADDR=1", ok("AT+CGPADDR=1", '+CGPADDR: 1,"%s"' % IP_CID1))
    check(lte, "AT+CGPADDR", ok("AT+CGPADDR", '+CGPADDR: 1,"%s"' % IP_CID1))
    # already active: OK, unchanged (27.007); +QIACT says ERROR as before
    check(lte, "AT+CGACT=1,1", ok("AT+CGACT=1,1"))
    check(lte, "AT+QIACT=1", err("AT+QIACT=1"))
    check(lte, "AT+CGACT=0,1", ok("AT+CGACT=0,1"))
    check(lte, "AT+QIACT?", ok("AT+QIACT?"))
    check(lte, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,0"))
    check(lte, "AT+CGPADDR=1", ok("AT+CGPADDR=1", '+CGPADDR: 1,"0.0.0.0"'))
    check(lte, "AT+CGACT=0,1", ok("AT+CGACT=0,1"))


def test_qiact_shows_in_cgact(lte):
    lte.cmd('AT+QICSGP=2,3,"dual"')
    lte.cmd("AT+QIACT=2")
    check(lte, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,0", "+CGACT: 2,1"))
    check(lte, "AT+CGPADDR=2,1", ok("AT+CGPADDR=2,1", '+CGPADDR: 2,"%s","%s"' % (IP_CID2, IP6_CID2),
                                                        '+CGPADDR: 1,"0.0.0.0"'))
    lte.cmd("AT+QIDEACT=2")
    check(lte, "AT+CGPADDR=2", ok("AT+CGPADDR=2", '+CGPADDR: 2,"0.0.0.0","%s"' % ZERO6))


def test_cgpaddr_ipv6(lte):
    lte.cmd('AT+CGDCONT=2,"IPV6","v6"')
    lte.cmd("AT+CGACT=1,2")
    check(lte, "AT+CGPADDR=2", ok("AT+CGPADDR=2", '+CGPADDR: 2,"%s"' % IP6_CID2))
    check(lte, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 2,1,2,"fd00:a:0:2::1"'))


def test_cgact_without_cid_acts_on_every_defined_context(lte):
    lte.cmd('AT+CGDCONT=2,"IP","two"')
    check(lte, "AT+CGACT=1", ok("AT+CGACT=1"))
    check(lte, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,1", "+CGACT: 2,1"))
    check(lte, "AT+CGACT=0", ok("AT+CGACT=0"))
    check(lte, "AT+QIACT?", ok("AT+QIACT?"))


def test_cgact_deactivation_closes_quietly(lte):
    """As AT+QIDEACT: the host deactivated, so no +QIURC: "pdpdeact"."""
    lte.cmd("AT+CGACT=1,1")
    check(lte, "AT+CGACT=0,1", ok("AT+CGACT=0,1"))
    assert lte.drain() == b""


def test_cgact_after_detach_attaches_first(lte):
    lte.cmd("AT+CGREG=1")
    lte.cmd("AT+CGATT=0")
    lte.expect(b"\r\n+CGREG: 0\r\n")
    lte.write(b"AT+CGACT=1,1\r")
    lte.expect(b"AT+CGACT=1,1\r\r\nOK\r\n\r\n+CGREG: 1\r\n")
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 1"))


def test_cgact_failures(lte):
    check(lte, "AT+CGACT=1,5", err("AT+CGACT=1,5", "+CME ERROR: 3"))
    lte.cmd("AT+CFUN=4")
    check(lte, "AT+CGACT=1,1", err("AT+CGACT=1,1", "+CME ERROR: 3"))
    lte.cmd("AT+CFUN=1")
    lte.cmd("AT+COPS=2")
    check(lte, "AT+CGACT=1,1", err("AT+CGACT=1,1", "+CME ERROR: 30"))
    lte.cmd("AT+CMEE=2")
    check(lte, "AT+CGACT=1,1", err("AT+CGACT=1,1", "+CME ERROR: no network service"))
    lte.cmd("AT+CMEE=0")
    check(lte, "AT+CGACT=1,1", err("AT+CGACT=1,1"))
    # deactivation needs no network
    check(lte, "AT+CGACT=0,1", ok("AT+CGACT=0,1"))


@pytest.mark.parametrize("line", ["AT+CGACT=2,1", "AT+CGACT=1,0", "AT+CGACT=1,25", "AT+CGACT=",
                                  "AT+CGACT=1,1,2", 'AT+CGACT="1",1', "AT+CGACT=,1"])
def test_cgact_bad_values(lte, line):
    check(lte, line, err(line))


@pytest.mark.parametrize("line", ["AT+CGPADDR=0", "AT+CGPADDR=25", "AT+CGPADDR=2",
                                  "AT+CGPADDR=1,2", 'AT+CGPADDR="1"', "AT+CGPADDR=,1"])
def test_cgpaddr_bad_values(lte, line):
    check(lte, line, err(line))


def test_tinygsm_bg96_connect_sequence(lte):
    """TinyGSM's BG96 gprsConnect, then isGprsConnected (+CGATT? and +CGPADDR=1)."""
    check(lte, "AT+QIDEACT=1", ok("AT+QIDEACT=1"))
    check(lte, 'AT+QICSGP=1,1,"hologram","",""', ok('AT+QICSGP=1,1,"hologram","",""'))
    check(lte, "AT+QIACT=1", ok("AT+QIACT=1"))
    check(lte, "AT+CGATT=1", ok("AT+CGATT=1"))
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 1"))
    check(lte, "AT+CGPADDR=1", ok("AT+CGPADDR=1", '+CGPADDR: 1,"%s"' % IP_CID1))
    check(lte, "AT+CGDCONT?", ok("AT+CGDCONT?", '+CGDCONT: 1,"IP","hologram","0.0.0.0",0,0,0,0'))


def test_m95_cgact_and_cgpaddr(m95):
    check(m95, "AT+CGACT=1,1", err("AT+CGACT=1,1"))  # not defined; M95 CMEE is 0
    m95.cmd("AT+CMEE=1")
    check(m95, "AT+CGACT=1,1", err("AT+CGACT=1,1", "+CME ERROR: 3"))
    m95.cmd('AT+CGDCONT=1,"IP","cmnet"')
    m95.cmd('AT+CGDCONT=2,"IP","two"')
    check(m95, "AT+CGACT=1,1", ok("AT+CGACT=1,1"))
    check(m95, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,1", "+CGACT: 2,0"))
    check(m95, "AT+CGPADDR", ok("AT+CGPADDR", '+CGPADDR: 1,"%s"' % IP_CID1, '+CGPADDR: 2,"0.0.0.0"'))
    check(m95, 'AT+CGDCONT=1,"IP","x"', err('AT+CGDCONT=1,"IP","x"', "+CME ERROR: 3"))
    # its own context: the legacy stack is still in IP INITIAL
    m95.write(b"AT+QISTAT\r")
    m95.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    check(m95, "AT+CGATT=0", ok("AT+CGATT=0"))
    check(m95, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,0", "+CGACT: 2,0"))
    check(m95, "AT+CGACT=1", ok("AT+CGACT=1"))
    check(m95, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 1"))
    check(m95, "AT+CGPADDR=2", ok("AT+CGPADDR=2", '+CGPADDR: 2,"%s"' % IP_CID2))
    check(m95, "AT+CGACT=0,2", ok("AT+CGACT=0,2"))
    check(m95, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,1", "+CGACT: 2,0"))
    for line in ("AT+CGACT=1,4", "AT+CGPADDR=4", "AT+CGPADDR=3"):
        check(m95, line, err(line))


def test_m95_cgact_is_lost_on_reboot(m95):
    m95.cmd('AT+CGDCONT=1,"IP","cmnet"')
    m95.cmd("AT+CGACT=1,1")
    reboot(m95, "m95")
    check(m95, "AT+CGACT?", ok("AT+CGACT?"))


def test_reboot_deactivates_cgact_contexts(lte):
    lte.cmd("AT+CGACT=1,1")
    reboot(lte, lte.model)
    check(lte, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,0"))


def test_cgatt_state_is_lost_on_reboot(lte):
    lte.cmd("AT+CGATT=0")
    reboot(lte, lte.model)
    check(lte, "AT+CGATT?", ok("AT+CGATT?", "+CGATT: 1"))


# ---------------------------------------------------------------- settings


SETTINGS = [
    # (command, values accepted, values refused)
    ("+CTZR", [0, 1, 2], [3]),
    ("+CTZU", [0, 1, 3], [2, 4]),
    ("+CMGF", [0, 1], [2]),
    ("+QSCLK", [0, 1], [2]),
]


@pytest.mark.parametrize("name,good,bad", SETTINGS)
def test_lte_settings(lte, name, good, bad):
    for v in good:
        check(lte, "AT%s=%d" % (name, v), ok("AT%s=%d" % (name, v)))
        check(lte, "AT%s?" % name, ok("AT%s?" % name, "%s: %d" % (name, v)))
    for v in bad + [-1]:
        check(lte, "AT%s=%d" % (name, v), err("AT%s=%d" % (name, v)))
    for line in ('AT%s="1"' % name, "AT%s=1,1" % name):
        check(lte, line, err(line))
    check(lte, "AT%s?" % name, ok("AT%s?" % name, "%s: %d" % (name, good[-1])))


@pytest.mark.parametrize("name,good,bad", [
    ("+CTZR", [0, 1], [2]),
    ("+QNITZ", [0, 1], [2]),
    ("+CMGF", [0, 1], [2]),
    ("+QSCLK", [0, 1, 2], [3]),
])
def test_m95_settings(m95, name, good, bad):
    for v in good:
        check(m95, "AT%s=%d" % (name, v), ok("AT%s=%d" % (name, v)))
        check(m95, "AT%s?" % name, ok("AT%s?" % name, "%s: %d" % (name, v)))
    for v in bad:
        check(m95, "AT%s=%d" % (name, v), err("AT%s=%d" % (name, v)))


def test_cmgf_without_value_is_pdu_mode(lte):
    lte.cmd("AT+CMGF=1")
    check(lte, "AT+CMGF=", ok("AT+CMGF="))
    check(lte, "AT+CMGF?", ok("AT+CMGF?", "+CMGF: 0"))


def test_cnmi(lte):
    check(lte, "AT+CNMI=2,1,0,0,0", ok("AT+CNMI=2,1,0,0,0"))
    check(lte, "AT+CNMI=1,2,2,1,1", ok("AT+CNMI=1,2,2,1,1"))
    check(lte, "AT+CNMI?", ok("AT+CNMI?", "+CNMI: 1,2,2,1,1"))
    # omitted fields keep their values
    check(lte, "AT+CNMI=2,,0", ok("AT+CNMI=2,,0"))
    check(lte, "AT+CNMI?", ok("AT+CNMI?", "+CNMI: 2,2,0,1,1"))
    for line in ("AT+CNMI=3", "AT+CNMI=2,4", "AT+CNMI=2,1,1", "AT+CNMI=2,1,3", "AT+CNMI=2,1,0,3",
                 "AT+CNMI=2,1,0,0,2", "AT+CNMI=2,1,0,0,0,0", 'AT+CNMI="2"'):
        check(lte, line, err(line))
    check(lte, "AT+CNMI?", ok("AT+CNMI?", "+CNMI: 2,2,0,1,1"))


def test_m95_cnmi(m95):
    check(m95, "AT+CNMI=3,3,2,2,1", ok("AT+CNMI=3,3,2,2,1"))
    check(m95, "AT+CNMI?", ok("AT+CNMI?", "+CNMI: 3,3,2,2,1"))
    check(m95, "AT+CNMI=4", err("AT+CNMI=4"))


def test_cscs(lte, m95):
    for t, sets in ((lte, ["GSM", "IRA", "UCS2"]), (m95, ["GSM", "HEX", "IRA", "PCCP936", "UCS2"])):
        for s in sets:
            check(t, 'AT+CSCS="%s"' % s, ok('AT+CSCS="%s"' % s))
            check(t, "AT+CSCS?", ok("AT+CSCS?", '+CSCS: "%s"' % s))
        check(t, 'AT+CSCS="ira"', ok('AT+CSCS="ira"'))
        check(t, "AT+CSCS?", ok("AT+CSCS?", '+CSCS: "IRA"'))
        for line in ('AT+CSCS="UTF-8"', "AT+CSCS=GSM", "AT+CSCS=", 'AT+CSCS="GSM","IRA"'):
            check(t, line, err(line))
    check(lte, 'AT+CSCS="HEX"', err('AT+CSCS="HEX"'))


def test_cbc_is_constant(lte, m95):
    for t in (lte, m95):
        check(t, "AT+CBC", ok("AT+CBC", "+CBC: 0,75,3800"))


def test_lte_reboot_keeps_time_zone_settings_only(lte):
    lte.cmd('AT+CTZR=2;+CTZU=3;+CMGF=1;+CNMI=1,1,0,0,0;+CSCS="UCS2";+QSCLK=1')
    reboot(lte, lte.model)
    for cmd, lines in [("AT+CTZR?", ["+CTZR: 2"]), ("AT+CTZU?", ["+CTZU: 3"]),
                       ("AT+CMGF?", ["+CMGF: 0"]), ("AT+CNMI?", ["+CNMI: 2,1,0,0,0"]),
                       ("AT+CSCS?", ['+CSCS: "GSM"']), ("AT+QSCLK?", ["+QSCLK: 0"])]:
        check(lte, cmd, ok(cmd, *lines))


def test_m95_reboot_resets_every_setting(m95):
    m95.cmd('AT+CTZR=1;+QNITZ=1;+CMGF=1;+CNMI=1,1,0,0,0;+CSCS="UCS2";+QSCLK=2')
    reboot(m95, "m95")
    for cmd, lines in M95_DEFAULTS:
        check(m95, cmd, ok(cmd, *lines))


def test_tinygsm_init_sequences(lte, m95):
    """TinyGSM: the BG96 init sends +CTZR=0 and +CTZU=1, the M95 and MC60 +QNITZ=1; each must
    answer OK or the driver gives up."""
    check(lte, "AT+CTZR=0", ok("AT+CTZR=0"))
    check(lte, "AT+CTZU=1", ok("AT+CTZU=1"))
    check(m95, "AT+QNITZ=1", ok("AT+QNITZ=1"))
    check(m95, "AT+QSCLK=1", ok("AT+QSCLK=1"))


def test_settings_on_one_line(lte):
    line = 'AT+CMGF=1;+CSCS="IRA";+CNMI=2,1,0,0,0;+CMGF?;+CSCS?'
    # each command's information block is framed on its own (as AT+CSQ;+CREG?)
    check(lte, line, ok(line, "+CMGF: 1\r\n", '+CSCS: "IRA"'))
