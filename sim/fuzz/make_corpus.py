#!/usr/bin/env python3
"""Write the fuzz targets' seed corpora (sim/fuzz/corpus/<target>/) from the unit-test data.

    sim/fuzz/make_corpus.py [BUILD_DIR]

Seeds are named by the SHA-1 of their bytes (as libFuzzer names what it keeps), so running this
again adds nothing twice. fuzz_mqtt_codec's seeds come from `test_mqtt_codec --seeds` (the
decode vectors of sim/tests/data/mqtt_decode.txt) and need BUILD_DIR (default: build).
Sources:
  fuzz_at_line         the scripts of sim/tests/test_line.c and the data-mode stories below
  fuzz_at_param        the command lines of harness/tests/*.py and sim/tests/test_param.c's rows
  fuzz_scenario_parse  the inputs of sim/tests/data/scenario_parse.txt (with the commands its
                       match and expansion rows try), and the scenario_good/bad files
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.join(ROOT, "sim", "fuzz", "corpus")
DATA = os.path.join(ROOT, "sim", "tests", "data")
SEED_MAX = 4096


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


# ---- fuzz_at_line: "\xff k" ends a write, the next arriving (k & 0x7f) * 16 ms later, fed a
# byte at a time when k & 0x80; "\xff\xff" is a 0xff byte.

def wait(ms=0, bytewise=False):
    k = min(ms // 16, 0x7f) | (0x80 if bytewise else 0)
    assert k != 0xff
    return b"\xff" + bytes([k])


def esc(data):
    return data.replace(b"\xff", b"\xff\xff")


ALL_BYTES = bytes(range(256))
LINE_SEEDS = [
    # test_line.c's scripts
    b"AT\rATI\r\n",
    b"AT\r\nAT\r\n",
    b"A\nX\bT\r",
    b"AT+CSQ\rA/",
    b"AT+P=0\r\nhello\x1a\rAT\r",
    b"AT+P=0\rab\x1b",
    b"AT+P=4\r\nab\x1a\x1b\rAT\r",
    b"AT+R=5\r\n12345AT\r",
    b"AT+P=4\r" + wait() + b"\nabcAT\r",
    b"AT+P=0\r" + wait() + b"\nhi\x1a",
    b"AT+P=3\r\n" + wait() + b"\n\r\nAT\r",
    b"AT+R=3\r" + wait() + b"\nab",
    b"AT+R=3\r\nabc",
    b"AT\r" + wait() + b"\nAT\r",
    b"A" * 4200 + b"\rAT\r",
    # issue 10 item 3: "\nabc" right after the prompt, then the next command
    b"AT+P=4\r" + wait(1) + b"\nabc" + wait(1) + b"AT\r",
    b"AT+R=4,5000,1000\r" + wait(1) + b"\nabc" + wait(1) + b"AT\r",
    # a handler that answers later: the LF came before the prompt
    b"AT+PD=2\r" + wait(200) + b"\nab",
    b"AT+RD=2,0,0\r" + wait(200) + b"\nab",
    b"AT+PD=0\r\n" + wait(50) + b"x\x1a",
    # every byte value as payload, fixed length and raw
    b"AT+P=256\r\n" + wait(1) + esc(ALL_BYTES) + b"AT\r",
    b"AT+R=256,2000,0\r\n" + wait(1) + esc(ALL_BYTES) + b"AT\r",
    b"AT+P=0\r\n" + wait(1) + esc(bytes(b for b in range(256) if b not in (0x1a, 0x1b)))
    + b"\x1a",
    # +++ with guard times (500 ms), without them, given back, and at the length's end
    b"AT+R=0,0,500\r\n" + wait(1) + b"data" + wait(600) + b"+" + wait(100) + b"+"
    + wait(100) + b"+" + wait(600) + b"AT\r",
    b"AT+R=0,0,500\r\n" + wait(600) + b"+++" + wait(600) + b"AT\r",
    b"AT+R=0,0,500\r\n" + wait(1) + b"a+++b" + wait(600) + b"+++",
    b"AT+R=0,0,500\r\n" + wait(600) + b"++" + wait(100) + b"x" + wait(600) + b"+++",
    b"AT+R=3,0,500\r\n" + wait(600) + b"+++" + wait(600) + b"AT\r",
    b"AT+R=5,0,500\r\n" + wait(600, True) + b"+++" + wait(100) + b"++AT\r",
    # idle timeouts, with '+' held when it strikes
    b"AT+R=100,300,0\r\n" + wait(1) + b"abc" + wait(400) + b"AT\r",
    b"AT+R=100,300,500\r\n" + wait(600) + b"++" + wait(1000) + b"AT\r",
    b"AT+R=0,1000,200\r\n" + wait(300) + b"+" + wait(100) + b"+" + wait(100) + b"+"
    + wait(300) + b"AT\r",
    # fed a byte at a time
    b"AT+P=3\r\n" + wait(0, True) + b"\nxyAT+R=2\r\nab" + wait(0, True) + b"AT\r",
    # A/ starting a data mode: never a LF to swallow
    b"AT+P=2\rxyA/" + wait(1) + b"\nz",
]


def line_seeds():
    return [put("fuzz_at_line", s) for s in LINE_SEEDS]


# ---- fuzz_at_param: the command line after "AT"

PARAM_ROWS = [
    b"", b"+CSQ", b"+cmee?", b"+CMEE=?", b"+CMEE=2", b"+CMEE=2;+CSQ", b"E0V1", b"E", b"I",
    b"S3?", b"S3=13", b"&F", b"&F0E1", b'+QMTPUB=0,1,1,0,"a;b";+CSQ', b'+QFLST="*"',
    b'+QMTCFG="recv/mode",0,0,1', b"+", b"+CSQ?x", b"#", b"\xe2\x80\x9c",
    b'+QFUPL="RAM:a",10;;+CSQ', b"+X=1", b"+X=0x1F", b"+X=0XFFFF", b"+X=-1", b"+X=1,,3",
    b'+X="a,b",2', b'+X= 1 , "x" ', b'+X=""', b"+X=CMNET", b'+X="0xFFFF"', b"+X=,",
    b'+X="abc', b'+X="a"b', b"+X=1\x01", b"+X=\xe2\x80\x9ca\xe2\x80\x9d", b"+X=\xff",
    b'+X=a"b', b"+X=99999999999999999999999", b"+X=0x", b'+X="utf8 \xc3\xa9"',
    b"+X=" + b",".join(b"%d" % i for i in range(40)), b"S" + b"9" * 30 + b"=1",
    b"+" + b"A" * 30, b"+X=9223372036854775807", b"+X=-9223372036854775808",
    b"+X=0x7fffffffffffffff", b"+X=\xc2\xab1\xc2\xbb",
]


def param_seeds():
    n = [put("fuzz_at_param", r) for r in PARAM_ROWS]
    lines = set()
    for name in sorted(os.listdir(os.path.join(ROOT, "harness", "tests"))):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(ROOT, "harness", "tests", name), encoding="utf-8") as f:
            text = f.read()
        lines.update(re.findall(r"'AT([+&A-Z][^'\\]*)'", text))
        lines.update(re.findall(r'"AT([+&A-Z][^"\\]*)"', text))
    for line in sorted(lines):
        if "%" not in line:  # Python format templates are not lines
            n.append(put("fuzz_at_param", line.encode()))
    return n


# ---- fuzz_scenario_parse: a line, then after a LF a command its rule is tried on

def unhex(s):
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s)


def scenario_seeds():
    n = []
    with open(os.path.join(DATA, "scenario_parse.txt"), "rb") as f:
        rows = f.read().split(b"\n")
    current = None
    for row in rows:
        if row.startswith(b">"):
            hexed = row.startswith(b">x")
            s = row[2:] if hexed else row[1:]
            if s.startswith(b" "):
                s = s[1:]
            current = unhex(s) if hexed else s
            n.append(put("fuzz_scenario_parse", current))
        elif current is not None and row[:1] in (b"?", b"{") and b"|" in row:
            cmd = row[1:row.index(b"|")].strip()
            n.append(put("fuzz_scenario_parse", current + b"\n" + cmd))
    for name in ("scenario_good.txt", "scenario_bad.txt"):
        with open(os.path.join(DATA, name), "rb") as f:
            text = f.read()
        n.append(put("fuzz_scenario_parse", text))
        for line in text.split(b"\n"):
            if line.strip() and not line.startswith(b"#"):
                n.append(put("fuzz_scenario_parse", line))
    return n


# ---- fuzz_mqtt_codec: test_mqtt_codec --seeds

def mqtt_seeds(build):
    exe = os.path.join(build, "sim", "test_mqtt_codec")
    if not os.path.exists(exe):
        print("fuzz_mqtt_codec: %s not built, skipped" % exe)
        return []
    n = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "--seeds", tmp], check=True, cwd=os.path.join(ROOT, "sim", "tests"),
                       stdout=subprocess.DEVNULL)
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name), "rb") as f:
                data = f.read()
            # the few vectors of maximum-size packets would make libFuzzer's inputs (and the
            # tree) megabytes long; the unit test covers them
            if len(data) <= SEED_MAX:
                n.append(put("fuzz_mqtt_codec", data))
    return n


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    for name, seeds in (("fuzz_at_line", line_seeds()), ("fuzz_at_param", param_seeds()),
                        ("fuzz_scenario_parse", scenario_seeds()),
                        ("fuzz_mqtt_codec", mqtt_seeds(build))):
        print("%s: %d seeds, %d new" % (name, len(seeds), sum(seeds)))


if __name__ == "__main__":
    main()
