"""The AT engine, byte for byte: framing, echo, result codes, concatenation, bad input."""
import pytest


def test_at_ok_is_nine_bytes(ec25):
    ec25.write(b"AT\r")
    ec25.expect(b"AT\r\r\nOK\r\n")
    assert ec25.drain(0.1) == b""


def test_lf_after_cr_is_swallowed_not_echoed(ec25):
    ec25.write(b"AT\r\n")
    ec25.expect(b"AT\r\r\nOK\r\n")
    ec25.write(b"AT\r")
    ec25.expect(b"AT\r\r\nOK\r\n")


def test_ati_three_lines_then_blank_then_ok(ec25):
    assert ec25.cmd("ATI") == b"ATI\r\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A17M4G\r\n\r\nOK\r\n"


def test_m95_ati(m95):
    assert m95.cmd("ATI") == b"ATI\r\r\nQuectel_Ltd\r\nQuectel_M95\r\nRevision: M95FAR02A08\r\n\r\nOK\r\n"


def test_ate0_echoes_its_own_line_then_stops(ec25):
    assert ec25.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert ec25.cmd("AT") == b"\r\nOK\r\n"
    assert ec25.cmd("ATE1") == b"\r\nOK\r\n"
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_numeric_results_v0(ec25):
    ec25.write(b"ATV0\r")
    ec25.expect(b"ATV0\r0\r")
    ec25.write(b"AT+NOPE\r")
    ec25.expect(b"AT+NOPE\r4\r")
    ec25.write(b"AT+CMEE?\r")
    ec25.expect(b"AT+CMEE?\r+CMEE: 1\r\n0\r")
    ec25.write(b"ATV1\r")
    ec25.expect(b"ATV1\r\r\nOK\r\n")


def test_quiet_q1_suppresses_result_codes(ec25):
    ec25.write(b"ATQ1\r")
    ec25.expect(b"ATQ1\r")
    ec25.write(b"AT+CMEE?\r")
    ec25.expect(b"AT+CMEE?\r\r\n+CMEE: 1\r\n")
    assert ec25.drain(0.1) == b""
    ec25.write(b"ATQ0\r")
    ec25.expect(b"ATQ0\r\r\nOK\r\n")


@pytest.mark.parametrize("cmee,expect", [
    (0, b"\r\nERROR\r\n"),
    (1, b"\r\n+CME ERROR: 50\r\n"),
    (2, b"\r\n+CME ERROR: incorrect parameters\r\n"),
])
def test_cmee_modes(ec25, cmee, expect):
    ec25.cmd("AT+CMEE=%d" % cmee)
    # ATS99 is no register: plain ERROR whatever CMEE says (V.250 unknown command)
    assert ec25.cmd("ATS99?").endswith(b"\r\nERROR\r\n")
    assert ec25.cmd("AT+CMEE=7").endswith(b"\r\nERROR\r\n")


def test_cmee_default_is_1_on_ec25(ec25):
    assert ec25.cmd("AT+CMEE?") == b"AT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n"


def test_case_insensitive_names(ec25):
    assert ec25.cmd("at+cmee?") == b"at+cmee?\r\r\n+CMEE: 1\r\n\r\nOK\r\n"
    assert ec25.cmd("aT+CmEe=2") == b"aT+CmEe=2\r\r\nOK\r\n"


def test_concatenation_stops_at_first_error(ec25):
    out = ec25.cmd("AT+CMEE=2;+CMEE?;+NOPE;+CMEE=0")
    assert out == b"AT+CMEE=2;+CMEE?;+NOPE;+CMEE=0\r\r\n+CMEE: 2\r\n\r\nERROR\r\n"
    assert ec25.cmd("AT+CMEE?").endswith(b"+CMEE: 2\r\n\r\nOK\r\n")


def test_basic_concatenation(ec25):
    assert ec25.cmd("ATE1V1Q0") == b"ATE1V1Q0\r\r\nOK\r\n"


def test_a_slash_repeats_previous_line(ec25):
    ec25.cmd("AT+CMEE?")
    ec25.write(b"A/")
    ec25.expect(b"A/\r\n+CMEE: 1\r\n\r\nOK\r\n")


def test_unknown_command_is_error(ec25):
    assert ec25.cmd("AT+QBOGUS=1") == b"AT+QBOGUS=1\r\r\nERROR\r\n"


def test_curly_quotes_fail_and_trace_says_why(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    line = "AT+CMEE=\u201c1\u201d".encode()
    assert t.cmd(line) == line + b"\r\r\nERROR\r\n"
    sim.stop()
    whys = [e.get("why", "") for e in sim.trace() if e["ev"] == "cmd"]
    assert any("U+201C" in w for w in whys), whys


def test_garbage_line_is_error_and_next_command_works(ec25):
    assert ec25.cmd("hello") == b"hello\r\r\nERROR\r\n"
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_blank_and_control_lines_are_silent(ec25):
    ec25.write(b"\r\x1a\r\x1b\r   \r")
    assert ec25.drain(0.2) == b"\r\x1a\r\x1b\r   \r"
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_nul_and_binary_bytes(ec25):
    assert ec25.cmd(b"AT\x00+CMEE?").endswith(b"\r\nERROR\r\n")
    assert ec25.cmd(b"AT+CMEE=\xff").endswith(b"\r\nERROR\r\n")
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_overlong_line_is_error_then_resync(ec25):
    line = b"AT+CMEE=" + b"1" * 5000
    out = ec25.cmd(line, timeout=10)
    assert out == line + b"\r\r\nERROR\r\n"
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_unterminated_string(ec25):
    assert ec25.cmd('AT+CMEE="1').endswith(b"\r\nERROR\r\n")
    assert ec25.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_wrong_parameter_count(ec25):
    assert ec25.cmd("AT+CMEE=1,2").endswith(b"\r\nERROR\r\n")


def test_byte_at_a_time(ec25):
    for b in b"AT+CMEE?\r\n":
        ec25.write(bytes([b]))
    ec25.expect(b"AT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n")


def test_many_commands_in_one_write(ec25):
    ec25.write(b"AT\rAT+CMEE?\rATI\r")
    out = ec25.read_until(b"Revision: EC25EFAR06A17M4G\r\n\r\nOK\r\n")
    assert out == (b"AT\r\r\nOK\r\nAT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n"
                   b"ATI\r\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A17M4G\r\n\r\nOK\r\n")


def test_host_reopens_tty(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    assert t.cmd("AT") == b"AT\r\r\nOK\r\n"
    t.close()
    from modemsim import Tty
    t2 = Tty(sim.path())
    sim.ttys.append(t2)
    assert t2.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_line_typed_during_a_slow_command_runs_when_it_ends(modemsim):
    """A second command sent while the first is still running (AT+QIACT takes ~600 ms with
    realistic timing) is answered when the first ends, without the host sending more."""
    sim = modemsim(timing="realistic")
    t = sim.open()
    t.write(b"AT+QIACT=1\rAT+CMEE?\r")
    out = t.read_until(b"+CMEE: 1\r\n\r\nOK\r\n", timeout=10)
    assert out.endswith(b"AT+QIACT=1\r\r\nOK\r\nAT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n")
