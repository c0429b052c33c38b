"""PDP contexts, byte for byte: EC25 +QICSGP/+QIACT/+QIDEACT/+QIDNSCFG/+QIGETERROR (reference
section 4a) and the M95 legacy stack +QIFGCNT/+QICSGP/+QIREGAPP/+QIACT/+QILOCIP/+QIDEACT/+QISTAT
(section 4b, GSM SSL application note steps 2, 3 and 8)."""
import time

import pytest
from modemsim_harness.at import check, err, ok

# Simulated addresses: 10.(100 + index/256).(index%256).(16*cid - 3) (sim/modem/pdp.c).
IP0_CID1 = "10.100.0.13"
IP0_CID3 = "10.100.0.45"
IP6_0_CID3 = "fd00:a:0:3::1"


# ---------------------------------------------------------------- EC25: +QICSGP


def test_qicsgp_unconfigured_query(ec25):
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"","","",0'))
    check(ec25, "AT+QICSGP=16", ok("AT+QICSGP=16", '+QICSGP: 1,"","","",0'))


def test_qicsgp_test_form(ec25):
    check(ec25, "AT+QICSGP=?",
          ok("AT+QICSGP=?", "+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)"))


@pytest.mark.parametrize("write,query", [
    ('AT+QICSGP=1,1,"internet"', '+QICSGP: 1,"internet","","",0'),
    ('AT+QICSGP=2,3,"web.apn","bob","s3cret"', '+QICSGP: 3,"web.apn","bob","s3cret",0'),
    ('AT+QICSGP=16,2,"v6.apn","u","p",3', '+QICSGP: 2,"v6.apn","u","p",3'),
    ('AT+QICSGP=5,1,"","","",0', '+QICSGP: 1,"","","",0'),
])
def test_qicsgp_write_then_query(ec25, write, query):
    check(ec25, write, ok(write))
    cid = write.split("=")[1].split(",")[0]
    check(ec25, "AT+QICSGP=" + cid, ok("AT+QICSGP=" + cid, query))


def test_qicsgp_rewrite_resets_omitted_credentials(ec25):
    ec25.cmd('AT+QICSGP=1,1,"a","user","pwd",2')
    ec25.cmd('AT+QICSGP=1,1,"b"')
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"b","","",0'))


def test_qicsgp_contexts_are_independent(ec25):
    ec25.cmd('AT+QICSGP=1,1,"one"')
    ec25.cmd('AT+QICSGP=2,1,"two"')
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"one","","",0'))
    check(ec25, "AT+QICSGP=2", ok("AT+QICSGP=2", '+QICSGP: 1,"two","","",0'))


@pytest.mark.parametrize("line", [
    "AT+QICSGP=0",                        # contextID 1-16
    "AT+QICSGP=17",
    'AT+QICSGP=0,1,"apn"',
    'AT+QICSGP=17,1,"apn"',
    'AT+QICSGP="1"',                      # wrong type
    'AT+QICSGP=1,4,"apn"',                # type 1-3
    'AT+QICSGP=1,0,"apn"',
    'AT+QICSGP=1,1,apn',                  # APN must be quoted
    'AT+QICSGP=1,"1","apn"',
    "AT+QICSGP=1,1",                      # type without APN
    'AT+QICSGP=1,1,"apn","user"',         # user without password
    'AT+QICSGP=1,1,"apn","u","p",4',      # auth 0-3
    'AT+QICSGP=1,1,"apn","u","p",0,1',    # too many
    'AT+QICSGP=1,1,"' + "a" * 101 + '"',  # APN longer than 100
    "AT+QICSGP",
    "AT+QICSGP?",
])
def test_qicsgp_bad_inputs(ec25, line):
    check(ec25, line, err(line))
    # nothing changed
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"","","",0'))


def test_qicsgp_longest_apn(ec25):
    apn = "a" * 100
    check(ec25, 'AT+QICSGP=1,1,"%s"' % apn, ok('AT+QICSGP=1,1,"%s"' % apn))
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"%s","","",0' % apn))


# ---------------------------------------------------------------- EC25: +QIACT / +QIDEACT


def test_field_log_bring_up(ec25):
    """seeds/000 (EC25AFFAR07A08M4G on T-Mobile): the APN query, QIACT? with nothing active,
    QIACT=1, then QIACT? with the address."""
    ec25.cmd('AT+QICSGP=1,1,"fast.t-mobile.com","","",0')
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"fast.t-mobile.com","","",0'))
    check(ec25, "AT+QIACT?", b"AT+QIACT?\r\r\nOK\r\n")
    check(ec25, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
    check(ec25, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 1,1,1,"%s"' % IP0_CID1))
    assert ec25.drain(0.2) == b""


def test_qiact_test_form_and_no_exec_form(ec25):
    check(ec25, "AT+QIACT=?", ok("AT+QIACT=?", "+QIACT: (1-16)"))
    check(ec25, "AT+QIDEACT=?", ok("AT+QIDEACT=?", "+QIDEACT: (1-16)"))
    check(ec25, "AT+QIACT", err("AT+QIACT"))
    check(ec25, "AT+QIDEACT", err("AT+QIDEACT"))
    check(ec25, "AT+QIDEACT?", err("AT+QIDEACT?"))


@pytest.mark.parametrize("line", ["AT+QIACT=0", "AT+QIACT=17", 'AT+QIACT="1"', "AT+QIACT=1,1",
                                  "AT+QIACT=", "AT+QIDEACT=0", "AT+QIDEACT=17",
                                  'AT+QIDEACT="1"', "AT+QIDEACT=1,1"])
def test_qiact_qideact_bad_inputs(ec25, line):
    check(ec25, line, err(line))
    check(ec25, "AT+QIACT?", b"AT+QIACT?\r\r\nOK\r\n")


def test_activating_twice_is_error(ec25):
    check(ec25, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
    check(ec25, "AT+QIACT=1", err("AT+QIACT=1"))
    check(ec25, "AT+QIGETERROR",
          ok("AT+QIGETERROR", "+QIGETERROR: 561,open PDP context failed"))
    check(ec25, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 1,1,1,"%s"' % IP0_CID1))


def test_deactivate(ec25):
    ec25.cmd("AT+QIACT=1")
    check(ec25, "AT+QIDEACT=1", b"AT+QIDEACT=1\r\r\nOK\r\n")
    check(ec25, "AT+QIACT?", b"AT+QIACT?\r\r\nOK\r\n")
    # a host deactivation gives no +QIURC: "pdpdeact"
    assert ec25.drain(0.3) == b""
    # and the context can be activated again, with the same address
    check(ec25, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
    check(ec25, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 1,1,1,"%s"' % IP0_CID1))


def test_deactivating_inactive_context_is_ok(ec25):
    check(ec25, "AT+QIDEACT=1", b"AT+QIDEACT=1\r\r\nOK\r\n")
    check(ec25, "AT+QIDEACT=16", b"AT+QIDEACT=16\r\r\nOK\r\n")
    check(ec25, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 0,operate successfully"))


def test_qiact_read_lists_every_type_in_order(ec25):
    ec25.cmd('AT+QICSGP=3,3,"dual"')
    ec25.cmd('AT+QICSGP=2,2,"v6only"')
    check(ec25, "AT+QIACT=3", b"AT+QIACT=3\r\r\nOK\r\n")
    check(ec25, "AT+QIACT=2", b"AT+QIACT=2\r\r\nOK\r\n")
    check(ec25, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
    check(ec25, "AT+QIACT?", ok("AT+QIACT?", 
        '+QIACT: 1,1,1,"%s"' % IP0_CID1,
        '+QIACT: 2,1,2,"fd00:a:0:2::1"',
        '+QIACT: 3,1,3,"%s","%s"' % (IP0_CID3, IP6_0_CID3)))
    ec25.cmd("AT+QIDEACT=2")
    check(ec25, "AT+QIACT?", ok("AT+QIACT?", 
        '+QIACT: 1,1,1,"%s"' % IP0_CID1,
        '+QIACT: 3,1,3,"%s","%s"' % (IP0_CID3, IP6_0_CID3)))


def test_requalifying_an_active_context_keeps_its_address(ec25):
    ec25.cmd("AT+QIACT=1")
    check(ec25, 'AT+QICSGP=1,3,"other"', ok('AT+QICSGP=1,3,"other"'))
    check(ec25, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 1,1,1,"%s"' % IP0_CID1))


def test_concatenated_activation_and_query(ec25):
    check(ec25, "AT+QIACT=1;+QIACT?",
          ok("AT+QIACT=1;+QIACT?", '+QIACT: 1,1,1,"%s"' % IP0_CID1))


def test_qiact_without_network_fails(ec25):
    check(ec25, "AT+CFUN=0", b"AT+CFUN=0\r\r\nOK\r\n")
    ec25.drain(0.3)
    check(ec25, "AT+QIACT=1", err("AT+QIACT=1"))
    check(ec25, "AT+QIGETERROR",
          ok("AT+QIGETERROR", "+QIGETERROR: 561,open PDP context failed"))


def test_each_modem_has_its_own_address(modemsim):
    sim = modemsim(model="ec25", count=3)
    seen = set()
    for i in range(3):
        t = sim.open(i)
        check(t, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
        out = t.cmd("AT+QIACT?")
        assert out == ok("AT+QIACT?", '+QIACT: 1,1,1,"10.100.%d.13"' % i)
        seen.add(out)
    assert len(seen) == 3


def test_qiact_takes_realistic_time(modemsim):
    sim = modemsim(model="ec25", timing="realistic")
    t = sim.open()
    start = time.monotonic()
    check(t, "AT+QIACT=1", b"AT+QIACT=1\r\r\nOK\r\n")
    took = time.monotonic() - start
    assert 0.3 <= took < 3, took


def test_urcs_during_pending_qiact_follow_its_ok(modemsim):
    """Boot URCs come due while AT+QIACT=1 is pending (time scale 3: +CFUN: 1 at 1.2 s,
    +CPIN: READY at 1.5 s, the activation answers 1.8 s after the command). Nothing may come
    between the echo and OK; the held URCs follow OK."""
    sim = modemsim("--time-scale", "3", model="ec25", timing="realistic")
    t = sim.open(boot=False)
    t.read_until(b"\r\nRDY\r\n", timeout=10)
    t.write(b"AT+QIACT=1\r")
    sent = time.monotonic()
    t.expect(b"AT+QIACT=1\r\r\nOK\r\n", timeout=10)
    assert time.monotonic() - sent >= 1.5
    t.expect(b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n", timeout=5)
    t.read_until(b"\r\n+QUSIM: 1\r\n", timeout=5)  # due at 1.8 s: just before or after OK
    check(t, "AT+QIACT?", ok("AT+QIACT?", '+QIACT: 1,1,1,"%s"' % IP0_CID1))


def test_reboot_deactivates_but_keeps_qicsgp(ec25):
    """Decision documented in pdp.c: the EC25 keeps its context profiles across a reboot."""
    ec25.cmd('AT+QICSGP=1,1,"keep.me","u","p",1')
    ec25.cmd("AT+QIACT=1")
    check(ec25, "AT+CFUN=1,1", b"AT+CFUN=1,1\r\r\nOK\r\n")
    ec25.read_until(b"+QIND: PB DONE\r\n", timeout=15)
    check(ec25, "AT+QIACT?", b"AT+QIACT?\r\r\nOK\r\n")
    check(ec25, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"keep.me","u","p",1'))


# ---------------------------------------------------------------- EC25: +QIDNSCFG


def test_qidnscfg_needs_active_context(ec25):
    check(ec25, "AT+QIDNSCFG=1", err("AT+QIDNSCFG=1"))
    check(ec25, 'AT+QIDNSCFG=1,"8.8.8.8"', err('AT+QIDNSCFG=1,"8.8.8.8"'))
    check(ec25, "AT+QIGETERROR",
          ok("AT+QIGETERROR", "+QIGETERROR: 572,operation not allowed"))


def test_qidnscfg_query_set_and_reset(ec25):
    check(ec25, "AT+QIDNSCFG=?",
          ok("AT+QIDNSCFG=?", "+QIDNSCFG: (1-16),<pridnsaddr>,<secdnsaddr>"))
    ec25.cmd("AT+QIACT=1")
    check(ec25, "AT+QIDNSCFG=1",
          ok("AT+QIDNSCFG=1", '+QIDNSCFG: 1,"10.200.0.10","10.200.0.11"'))
    check(ec25, 'AT+QIDNSCFG=1,"8.8.8.8","1.1.1.1"', ok('AT+QIDNSCFG=1,"8.8.8.8","1.1.1.1"'))
    check(ec25, "AT+QIDNSCFG=1", ok("AT+QIDNSCFG=1", '+QIDNSCFG: 1,"8.8.8.8","1.1.1.1"'))
    # an omitted secondary keeps the current one
    check(ec25, 'AT+QIDNSCFG=1,"9.9.9.9"', ok('AT+QIDNSCFG=1,"9.9.9.9"'))
    check(ec25, "AT+QIDNSCFG=1", ok("AT+QIDNSCFG=1", '+QIDNSCFG: 1,"9.9.9.9","1.1.1.1"'))
    # the setting lasts until the context goes down
    ec25.cmd("AT+QIDEACT=1")
    ec25.cmd("AT+QIACT=1")
    check(ec25, "AT+QIDNSCFG=1",
          ok("AT+QIDNSCFG=1", '+QIDNSCFG: 1,"10.200.0.10","10.200.0.11"'))


@pytest.mark.parametrize("line", ['AT+QIDNSCFG=1,"8.8.8"', 'AT+QIDNSCFG=1,"dns.google"',
                                  'AT+QIDNSCFG=1,"8.8.8.8","x"', 'AT+QIDNSCFG=1,""'])
def test_qidnscfg_bad_address(ec25, line):
    ec25.cmd("AT+QIACT=1")
    check(ec25, line, err(line))
    check(ec25, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 552,invalid parameters"))
    check(ec25, "AT+QIDNSCFG=1",
          ok("AT+QIDNSCFG=1", '+QIDNSCFG: 1,"10.200.0.10","10.200.0.11"'))


@pytest.mark.parametrize("line", ["AT+QIDNSCFG=0", "AT+QIDNSCFG=17", "AT+QIDNSCFG=1,8",
                                  'AT+QIDNSCFG=1,"1.1.1.1","2.2.2.2","3.3.3.3"', "AT+QIDNSCFG?"])
def test_qidnscfg_bad_syntax(ec25, line):
    ec25.cmd("AT+QIACT=1")
    check(ec25, line, err(line))


def test_qidnscfg_ipv6(ec25):
    ec25.cmd('AT+QICSGP=2,2,"v6"')
    ec25.cmd("AT+QIACT=2")
    check(ec25, "AT+QIDNSCFG=2",
          ok("AT+QIDNSCFG=2", '+QIDNSCFG: 2,"fd00:a::53","fd00:a::54"'))
    check(ec25, 'AT+QIDNSCFG=2,"2001:4860:4860::8888"', ok('AT+QIDNSCFG=2,"2001:4860:4860::8888"'))
    check(ec25, "AT+QIDNSCFG=2",
          ok("AT+QIDNSCFG=2", '+QIDNSCFG: 2,"2001:4860:4860::8888","fd00:a::54"'))


# ---------------------------------------------------------------- EC25: +QIGETERROR


def test_qigeterror_forms(ec25):
    check(ec25, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 0,operate successfully"))
    check(ec25, "AT+QIGETERROR=?", b"AT+QIGETERROR=?\r\r\nOK\r\n")
    check(ec25, "AT+QIGETERROR?", err("AT+QIGETERROR?"))
    check(ec25, "AT+QIGETERROR=1", err("AT+QIGETERROR=1"))


def test_qigeterror_success_clears(ec25):
    ec25.cmd("AT+QIDNSCFG=1")
    ec25.cmd("AT+QICSGP=1")
    check(ec25, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 0,operate successfully"))


# ---------------------------------------------------------------- M95 legacy stack


def qistat(t, state):
    t.write(b"AT+QISTAT\r")
    t.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: %s\r\n" % state.encode())


def test_m95_ssl_note_steps_2_3_8(m95):
    """GSM SSL AN, step 2 (QIFGCNT, QICSGP, QIREGAPP), step 3 (QIACT, QILOCIP: only the
    address, no OK) and step 8 (QIDEACT: DEACT OK)."""
    check(m95, "AT+QIFGCNT=0", b"AT+QIFGCNT=0\r\r\nOK\r\n")
    check(m95, 'AT+QICSGP=1,"CMNET"', b'AT+QICSGP=1,"CMNET"\r\r\nOK\r\n')
    check(m95, "AT+QIREGAPP", b"AT+QIREGAPP\r\r\nOK\r\n")
    check(m95, "AT+QIACT", b"AT+QIACT\r\r\nOK\r\n")
    m95.write(b"AT+QILOCIP\r")
    m95.expect(b"AT+QILOCIP\r\r\n%s\r\n" % IP0_CID1.encode())
    assert m95.drain(0.3) == b""
    check(m95, "AT", b"AT\r\r\nOK\r\n")
    m95.write(b"AT+QIDEACT\r")
    m95.expect(b"AT+QIDEACT\r\r\nDEACT OK\r\n")
    assert m95.drain(0.3) == b""


def test_m95_qistat_follows_the_state_machine(m95):
    qistat(m95, "IP INITIAL")
    m95.cmd('AT+QICSGP=1,"CMNET"')
    qistat(m95, "IP INITIAL")
    m95.cmd("AT+QIREGAPP")
    qistat(m95, "IP START")
    m95.cmd("AT+QIACT")
    qistat(m95, "IP GPRSACT")
    m95.write(b"AT+QILOCIP\r")
    m95.read_until(b"%s\r\n" % IP0_CID1.encode())
    qistat(m95, "IP STATUS")
    # QILOCIP again: the same address, still IP STATUS
    m95.write(b"AT+QILOCIP\r")
    m95.expect(b"AT+QILOCIP\r\r\n%s\r\n" % IP0_CID1.encode())
    qistat(m95, "IP STATUS")
    m95.write(b"AT+QIDEACT\r")
    m95.expect(b"AT+QIDEACT\r\r\nDEACT OK\r\n")
    qistat(m95, "IP INITIAL")


def test_m95_qistat_test_form(m95):
    check(m95, "AT+QISTAT=?", b"AT+QISTAT=?\r\r\nOK\r\n")
    check(m95, "AT+QISTAT?", err("AT+QISTAT?"))


def test_m95_commands_out_of_order(m95):
    # QIACT before QIREGAPP
    check(m95, "AT+QIACT", err("AT+QIACT"))
    # QILOCIP before activation
    check(m95, "AT+QILOCIP", err("AT+QILOCIP"))
    m95.cmd("AT+QIREGAPP")
    check(m95, "AT+QIREGAPP", err("AT+QIREGAPP"))
    check(m95, 'AT+QIREGAPP="x","",""', err('AT+QIREGAPP="x","",""'))
    check(m95, "AT+QILOCIP", err("AT+QILOCIP"))
    qistat(m95, "IP START")
    m95.cmd("AT+QIACT")
    # activating twice
    check(m95, "AT+QIACT", err("AT+QIACT"))
    check(m95, "AT+QIREGAPP", err("AT+QIREGAPP"))
    qistat(m95, "IP GPRSACT")
    # the APN set by QIREGAPP's failed write did not change
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "","",""'))


def test_m95_qideact_in_ip_initial_and_ip_start(m95):
    m95.write(b"AT+QIDEACT\r")
    m95.expect(b"AT+QIDEACT\r\r\nDEACT OK\r\n")
    m95.cmd("AT+QIREGAPP")
    m95.write(b"AT+QIDEACT\r")
    m95.expect(b"AT+QIDEACT\r\r\nDEACT OK\r\n")
    qistat(m95, "IP INITIAL")
    check(m95, "AT+QIDEACT=?", b"AT+QIDEACT=?\r\r\nOK\r\n")
    check(m95, "AT+QIDEACT=1", err("AT+QIDEACT=1"))


def test_m95_rt_thread_m26_sequence(m95):
    """The RT-Thread M26 driver: QICSGP with a space after the comma, QIDEACT straight after
    boot, QIMUX? / QIMUX=1, QIREGAPP, QIACT, QILOCIP."""
    check(m95, "AT+QIFGCNT=0", b"AT+QIFGCNT=0\r\r\nOK\r\n")
    check(m95, 'AT+QICSGP=1, "CMNET"', b'AT+QICSGP=1, "CMNET"\r\r\nOK\r\n')
    m95.write(b"AT+QIDEACT\r")
    m95.expect(b"AT+QIDEACT\r\r\nDEACT OK\r\n")
    check(m95, "AT+QIMUX?", ok("AT+QIMUX?", "+QIMUX: 0"))
    check(m95, "AT+QIMUX=1", b"AT+QIMUX=1\r\r\nOK\r\n")
    check(m95, "AT+QIREGAPP", b"AT+QIREGAPP\r\r\nOK\r\n")
    check(m95, "AT+QIACT", b"AT+QIACT\r\r\nOK\r\n")
    m95.write(b"AT+QILOCIP\r")
    m95.expect(b"AT+QILOCIP\r\r\n%s\r\n" % IP0_CID1.encode())
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "CMNET","",""'))


def test_m95_qiregapp_forms(m95):
    check(m95, "AT+QIREGAPP=?", ok("AT+QIREGAPP=?", '+QIREGAPP: "APN","USER","PWD"'))
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "","",""'))
    check(m95, 'AT+QIREGAPP="CMNET","user","pass"', b'AT+QIREGAPP="CMNET","user","pass"\r\r\nOK\r\n')
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "CMNET","user","pass"'))
    qistat(m95, "IP START")


@pytest.mark.parametrize("line", ['AT+QIREGAPP="apn","user"', "AT+QIREGAPP=apn",
                                  'AT+QIREGAPP="a","u","p",1,2', "AT+QIREGAPP=1"])
def test_m95_qiregapp_bad_inputs(m95, line):
    check(m95, line, err(line))
    qistat(m95, "IP INITIAL")


def test_m95_qicsgp_forms(m95):
    check(m95, "AT+QICSGP=?", ok("AT+QICSGP=?", "+QICSGP: (0-CSD,1-GPRS)"))
    check(m95, "AT+QICSGP?", ok("AT+QICSGP?", "+QICSGP: 1"))
    check(m95, 'AT+QICSGP=1,"apn","u","p"', b'AT+QICSGP=1,"apn","u","p"\r\r\nOK\r\n')
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "apn","u","p"'))
    check(m95, 'AT+QICSGP=0,"123","","",1', b'AT+QICSGP=0,"123","","",1\r\r\nOK\r\n')
    check(m95, "AT+QICSGP?", ok("AT+QICSGP?", "+QICSGP: 0"))
    # CSD is not supported by the stack: QIACT fails
    m95.cmd("AT+QIREGAPP")
    check(m95, "AT+QIACT", err("AT+QIACT"))
    qistat(m95, "IP START")


@pytest.mark.parametrize("line", ["AT+QICSGP=1", "AT+QICSGP=2,\"apn\"", 'AT+QICSGP=1,apn',
                                  'AT+QICSGP=1,"apn","user"', 'AT+QICSGP="1","apn"',
                                  'AT+QICSGP=1,"a","u","p",1,2', "AT+QICSGP"])
def test_m95_qicsgp_bad_inputs(m95, line):
    check(m95, line, err(line))


def test_m95_qifgcnt_selects_the_context(m95):
    check(m95, "AT+QIFGCNT=?", ok("AT+QIFGCNT=?", "+QIFGCNT: (0-1)"))
    check(m95, "AT+QIFGCNT?", ok("AT+QIFGCNT?", "+QIFGCNT: 0,0"))
    m95.cmd('AT+QICSGP=1,"zero"')
    check(m95, "AT+QIFGCNT=1", b"AT+QIFGCNT=1\r\r\nOK\r\n")
    check(m95, "AT+QIFGCNT?", ok("AT+QIFGCNT?", "+QIFGCNT: 1,0"))
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "","",""'))
    m95.cmd("AT+QIFGCNT=0")
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "zero","",""'))
    for line in ["AT+QIFGCNT=2", "AT+QIFGCNT=-1", 'AT+QIFGCNT="0"', "AT+QIFGCNT"]:
        check(m95, line, err(line))


@pytest.mark.parametrize("name", ["QIMUX", "QIDNSIP"])
def test_m95_mode_flags(m95, name):
    check(m95, "AT+%s=?" % name, ok("AT+%s=?" % name, "+%s: (0,1)" % name))
    check(m95, "AT+%s?" % name, ok("AT+%s?" % name, "+%s: 0" % name))
    check(m95, "AT+%s=1" % name, ok("AT+%s=1" % name))
    check(m95, "AT+%s?" % name, ok("AT+%s?" % name, "+%s: 1" % name))
    for bad in ["2", '"1"', "0,0"]:
        check(m95, "AT+%s=%s" % (name, bad), err("AT+%s=%s" % (name, bad)))
    check(m95, "AT+%s?" % name, ok("AT+%s?" % name, "+%s: 1" % name))


def test_m95_qiact_and_qilocip_test_forms(m95):
    check(m95, "AT+QIACT=?", b"AT+QIACT=?\r\r\nOK\r\n")
    check(m95, "AT+QILOCIP=?", b"AT+QILOCIP=?\r\r\nOK\r\n")
    check(m95, "AT+QIACT=1", err("AT+QIACT=1"))
    check(m95, "AT+QIACT?", err("AT+QIACT?"))


def test_m95_has_no_ec25_commands(m95):
    check(m95, "AT+QIGETERROR", err("AT+QIGETERROR"))
    check(m95, "AT+QIDNSCFG=1", err("AT+QIDNSCFG=1"))


def test_m95_qiact_takes_realistic_time(modemsim):
    sim = modemsim(model="m95", timing="realistic")
    t = sim.open()
    t.cmd("AT+QIREGAPP")
    start = time.monotonic()
    check(t, "AT+QIACT", b"AT+QIACT\r\r\nOK\r\n")
    assert 0.5 <= time.monotonic() - start < 3


def test_m95_urcs_during_pending_qiact_follow_its_ok(modemsim):
    """As on the EC25: +CFUN: 1 (1.2 s) and +CPIN: READY (1.5 s) come due while AT+QIACT
    (2.4 s at time scale 3) is pending and follow its OK."""
    sim = modemsim("--time-scale", "3", model="m95", timing="realistic")
    t = sim.open(boot=False)
    t.read_until(b"\r\nRDY\r\n", timeout=10)
    t.write(b"AT+QIREGAPP;+QIACT\r")
    t.expect(b"AT+QIREGAPP;+QIACT\r\r\nOK\r\n", timeout=10)
    t.expect(b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n", timeout=5)
    qistat(t, "IP GPRSACT")


def test_m95_reboot_resets_the_stack(m95):
    m95.cmd('AT+QICSGP=1,"CMNET"')
    m95.cmd("AT+QIMUX=1")
    m95.cmd("AT+QIREGAPP")
    m95.cmd("AT+QIACT")
    check(m95, "AT+CFUN=1,1", b"AT+CFUN=1,1\r\r\nOK\r\n")
    m95.read_until(b"SMS Ready\r\n", timeout=15)
    qistat(m95, "IP INITIAL")
    check(m95, "AT+QIREGAPP?", ok("AT+QIREGAPP?", '+QIREGAPP: "","",""'))
    check(m95, "AT+QIMUX?", ok("AT+QIMUX?", "+QIMUX: 0"))
