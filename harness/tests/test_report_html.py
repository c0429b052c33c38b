"""The HTML report (harness/report.py) as a person sees it: rendered by headless Chromium
(Debian's chromium) from a real conformance run, then checked in the DOM Chromium built
(--dump-dom: the summary table, the sequence diagram's rows, the fault band, the transcript,
and the count the page's script computed) and in the pixels it drew (--screenshot: the
PASS and FAIL badges, the red fault band, the blue TX arrows).

Chromium runs as root with a fresh profile, no sandbox, GPU, QUIC, first-run, background
networking, component updates or sync; the page must need nothing from the network.
"""
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

import conformance
import report

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser"))
                 if p), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package chromium; .ci/deps "
    "installs it)")

# report.py's CSS colours, as RGB.
FAULT_RED = (0xd6, 0x28, 0x28)
PASS_GREEN = (0x2b, 0x93, 0x48)
FAIL_RED = (0xc1, 0x12, 0x1f)
TX_BLUE = (0x1f, 0x5f, 0xbf)
FINDING_ORANGE = (0xf7, 0x7f, 0x00)


def chromium(tmp_path, url, *what, timeout=90):
    profile = tmp_path / ("profile-%d" % len(list(tmp_path.glob("profile-*"))))
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--user-data-dir=%s" % profile,
            *what, url]
    res = subprocess.run(argv, capture_output=True, timeout=timeout)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    return res.stdout.decode("utf-8")


# ---------------------------------------------------------------- a small DOM


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def find_all(self, tag=None, cls=None):
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes()):
                    out.append(c)
                out += c.find_all(tag, cls)
        return out


class DomParser(html.parser.HTMLParser):
    VOID = {"meta", "br", "col", "input", "img", "link", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in self.VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def dom(text):
    p = DomParser()
    p.feed(text)
    return p.root


# ---------------------------------------------------------------- PNG (8-bit RGB/RGBA)


def decode_png(data):
    """(width, height, bytes per pixel, rows of bytes): the filters of PNG 1.2 section 6."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        off = y * (stride + 1)
        f = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray(map(lambda a, b: (a + b) & 255, line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else:
            assert f == 0, "bad PNG filter %d" % f
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def count_colours(png, colours):
    """{colour: number of pixels of exactly that colour}."""
    w, h, bpp, rows = png
    out = {c: 0 for c in colours}
    pats = {bytes(c): c for c in colours}
    for row in rows:
        for pat, c in pats.items():
            if pat not in row:
                continue
            start = row.find(pat)
            while start >= 0:
                if start % bpp == 0:
                    out[c] += 1
                start = row.find(pat, start + 1)
    return out


# ---------------------------------------------------------------- the page itself


CRAFTED = [
    {"t": 1700000000.000, "modem": 0, "ev": "rx", "line": 1, "bytes": "\r\nRDY\r\n"},
    {"t": 1700000000.100, "modem": 0, "ev": "tx", "line": 2,
     "bytes": "AT+QMTPUB=0,1,1,0,\"<b>&x</b>\"\r"},
    {"t": 1700000000.101, "modem": 0, "ev": "tx", "line": 3, "bytes": "AT+CSQ\r\u00ff"},
    {"t": 1700000000.101, "modem": 0, "ev": "finding", "severity": "error",
     "kind": "cmd-before-result", "line": 3, "msg": "AT+CSQ before the result of AT+QMTPUB"},
    {"t": 1700000000.200, "modem": 0, "ev": "mqtt", "msg": "client 0 ==> PUBLISH id 1 qos 1"},
    {"t": 1700000000.250, "modem": 0, "ev": "mqtt", "msg": "client 0 <== PUBACK id 1"},
    {"t": 1700000000.300, "modem": 0, "ev": "fault", "msg": "fault link.reset fired client 0"},
    {"t": 1700000000.301, "modem": 0, "ev": "cmd", "cmd": "+CSQ", "result": "ERROR",
     "why": "busy"},
    {"t": 1700000000.400, "modem": 0, "ev": "net", "msg": "conn 1: reset by us"},
]


@pytest.fixture
def crafted(tmp_path):
    """A trace with one of each record (as sim/core/log.c writes them) and no transcript."""
    path = tmp_path / "trace.jsonl"
    with open(path, "w") as f:
        for r in CRAFTED:
            f.write(json.dumps(r) + "\n")
        f.write("{\"t\":1700000000.5,\"modem\":0,\"ev\":\"tx\",\"li")  # cut short by a crash
    return str(path)


def test_html_from_a_trace(crafted, tmp_path):
    """The page escapes what the host sent, links each finding to its transcript line, builds
    the transcript from the trace when there is no --log file, and references nothing."""
    out = report.write_single(str(tmp_path / "run.html"), crafted, title="crafted",
                              model="ec25")
    with open(out) as f:
        page = f.read()
    assert "<b>&x</b>" not in page and "&lt;b&gt;&amp;x&lt;/b&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\(|@import|<link""",
                         page, re.I), "the page must need nothing from elsewhere"
    root = dom(page)
    rows = root.find_all("tr", "ev")
    kinds = [[c for c in r.classes() if c.startswith("k-")][0] for r in rows]
    assert kinds == ["k-rx", "k-tx", "k-tx", "k-finding", "k-mqtt", "k-mqtt", "k-fault",
                     "k-cmd", "k-net", "k-note"]
    assert rows[2].text().endswith("AT+CSQ\\r\\xff")  # bytes as the transcript writes them
    assert [a.attrs["href"] for a in rows[3].find_all("a")] == ["#run-L4", "#run-L3"]
    assert "unreadable trace line" in rows[9].text()
    arrows = [a.classes() for a in root.find_all("div", "arr")]
    assert arrows == [["arr", "l"], ["arr", "r"], ["arr", "r"], ["arr", "r"], ["arr", "l"]]
    lines = root.find_all("pre", "transcript")[0].find_all("span")
    assert lines[1].attrs["id"] == "run-L2"
    assert re.fullmatch(r'\s+2  \[\d\d:\d\d:\d\d\.100\] #0 TX AT\+QMTPUB=0,1,1,0,"<b>&x</b>"\\r',
                        lines[1].text()), lines[1].text()
    assert lines[2].classes() == ["hl-finding"] and lines[3].classes() == ["hl-finding"]
    assert lines[6].classes() == ["hl-fault"]
    assert report.findings(report.load_trace(crafted))[0]["kind"] == "cmd-before-result"


# ---------------------------------------------------------------- rendered by Chromium

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real conformance run: the tiny driver of test_conformance.py on an EC25, once where
    the broker refuses its CONNECT (fault mqtt.connack code 5, a FAIL) and once as shipped."""
    from test_conformance import DRIVER
    d = tmp_path_factory.mktemp("report")
    (d / "driver.py").write_text(DRIVER)
    scn = d / "connack-refused.scn"
    scn.write_text("# the broker refuses the client\nat 0ms fault mqtt.connack code 5\n")
    out = str(d / "out")
    rep = conformance.run_matrix("%s %s {tty} {model}" % (sys.executable, d / "driver.py"),
                                 out, ["ec25"], [str(scn), None], ["conf/+/hello"],
                                 timeout=30, timing="fast")
    assert [(c["id"], c["status"]) for c in rep["cells"]] == [
        ("ec25-connack-refused", "fail"), ("ec25-baseline", "pass")], rep["cells"]
    return d, out, rep


@needs_chromium
def test_chromium_shows_the_run(run, tmp_path):
    d, out, rep = run
    url = "file://" + os.path.join(out, "report.html")
    root = dom(chromium(tmp_path, url, "--dump-dom"))

    # The page's script ran in Chromium and counted the rows it shows.
    assert root.find_all("html")[0].attrs.get("data-rendered") == "yes"

    summary = root.find_all("table", "summary")[0].find_all("tr")
    cells = [[td.text().strip() for td in tr.find_all("td")] for tr in summary[1:]]
    assert [c[:3] for c in cells] == [["ec25", "connack-refused", "FAIL"],
                                      ["ec25", "baseline", "PASS"]]
    assert cells[0][3] == ("driver exited with status 1 (stderr: CONNACK refused: "
                           "+QMTCONN: 0,0,5)no message on conf/+/hello at the broker")
    assert cells[0][4:6] == ["exit 1", "0/1 expected, 0 seen"]
    assert cells[1][4:6] == ["exit 0", "1/1 expected, 1 seen"]

    sections = {s.attrs["id"]: s for s in root.find_all("section", "cell")}
    assert list(sections) == ["ec25-connack-refused", "ec25-baseline"]
    for cid, sec in sections.items():
        rows = sec.find_all("tr", "ev")
        shown = sec.find_all("span", "shown")[0].text()
        assert shown == "%d of %d events shown" % (len(rows), len(rows)), shown
        assert len(rows) > 20

    fail = sections["ec25-connack-refused"]
    texts = [(r.classes()[1], r.text()) for r in fail.find_all("tr", "ev")]
    faults = [t for k, t in texts if k == "k-fault"]
    assert "FAULT fault mqtt.connack fired code 5" in faults[0], faults
    assert "CONNACK return code 0 made 5 (mqtt.connack)" in faults[1], faults
    assert any(k == "k-tx" and 'AT+QMTCONN=0,"conf-ec25"\\r' in t for k, t in texts)
    assert any(k == "k-mqtt" and "<== CONNACK rc 0" in t for k, t in texts)  # made 5
    assert any(k == "k-rx" and "+QMTCONN: 0,0,5" in t for k, t in texts)
    # The failing cell's transcript is open, line by line, as the --log file has it.
    details = [x for x in fail.find_all("details") if "open" in x.attrs]
    lines = details[0].find_all("span")
    with open(os.path.join(out, "ec25-connack-refused", "transcript.log")) as f:
        want = f.read().splitlines()
    assert [re.sub(r"^\s*\d+  ", "", s.text()) for s in lines] == want
    ok = sections["ec25-baseline"]
    assert any("seen at the broker: conf/ec25/hello 'hello from ec25'" in r.text()
               for r in ok.find_all("tr", "k-seen"))

    shot = tmp_path / "shot.png"
    chromium(tmp_path, url, "--screenshot=%s" % shot, "--window-size=1200,1800",
             "--hide-scrollbars")
    with open(shot, "rb") as f:
        png = decode_png(f.read())
    assert png[:2] == (1200, 1800)
    n = count_colours(png, (FAULT_RED, PASS_GREEN, FAIL_RED, TX_BLUE))
    assert n[FAULT_RED] > 2000, n  # the band across the diagram
    assert n[FAIL_RED] > 200 and n[PASS_GREEN] > 200, n  # badges
    assert n[TX_BLUE] > 300, n  # TX arrows


@needs_chromium
def test_chromium_shows_a_finding(crafted, tmp_path):
    """A finding is an orange band whose link goes to the host's line in the transcript."""
    page = report.write_single(str(tmp_path / "run.html"), crafted, title="crafted")
    url = "file://" + page
    root = dom(chromium(tmp_path, url, "--dump-dom"))
    band = root.find_all("tr", "k-finding")[0]
    assert band.classes() == ["ev", "k-finding", "sev-error"]
    assert band.find_all("td", "band")[0].text() == (
        "FINDING error cmd-before-result: AT+CSQ before the result of AT+QMTPUB "
        "(transcript line 3)")
    assert root.find_all("span", "shown")[0].text() == "10 of 10 events shown"
    shot = tmp_path / "shot.png"
    chromium(tmp_path, url, "--screenshot=%s" % shot, "--window-size=1000,700")
    with open(shot, "rb") as f:
        n = count_colours(decode_png(f.read()), (FINDING_ORANGE, FAULT_RED))
    assert n[FINDING_ORANGE] > 1500 and n[FAULT_RED] > 1500, n


# ---------------------------------------------------------------- what the report says why

XFAIL_GREEN = (0x5e, 0x8c, 0x6a)
KILLED_GREY = (0x34, 0x3a, 0x40)
NON_ASCII_YELLOW = (0xff, 0xe8, 0xa3)
FLAG_YELLOW = (0xe9, 0xc4, 0x6a)

# One driver command for four cells, picked by the scenario's name: the tiny driver (the
# broker refuses it: a clean failure the scenario expects), one that hangs (killed at the
# timeout), one that types curly quotes twice, one that never talks to the modem.
DISPATCH = ("case {scenario} in hang) echo hanging; sleep 300;; "
            "quotes) for i in 1 2; do printf 'AT+QSSLCFG=\\342\\200\\234sslversion\\342\\200"
            "\\235,2,4\\r' > {tty}; sleep 0.4; done;; silent) true;; "
            "*) %s %s {tty} {model};; esac")


@pytest.fixture(scope="module")
def why(tmp_path_factory):
    from test_conformance import DRIVER
    d = tmp_path_factory.mktemp("why")
    (d / "driver.py").write_text(DRIVER)
    scns = []
    for name, text in (("connack-refused", '# expect: fail "the broker refuses everyone"\n'
                        "at 0ms fault mqtt.connack code 5\n"),
                       ("hang", "# the driver hangs\n"), ("quotes", "# curly quotes\n"),
                       ("silent", "# nothing\n")):
        (d / (name + ".scn")).write_text(text)
        scns.append(str(d / (name + ".scn")))
    out = str(d / "out")
    rep = conformance.run_matrix(DISPATCH % (sys.executable, d / "driver.py"), out, ["ec25"],
                                 scns, [], timeout=4, timing="fast")
    assert [(c["id"], c["status"]) for c in rep["cells"]] == [
        ("ec25-connack-refused", "xfail"), ("ec25-hang", "fail"), ("ec25-quotes", "fail"),
        ("ec25-silent", "pass")], [(c["id"], c["status"], c["reasons"]) for c in rep["cells"]]
    return d, out, rep


def screenshot(tmp_path, url, size="1400,2400"):
    """The page as drawn; its path is printed, so a failing test's output names it."""
    shot = tmp_path / "shot.png"
    chromium(tmp_path, url, "--screenshot=%s" % shot, "--window-size=%s" % size,
             "--hide-scrollbars")
    print("screenshot of %s: %s" % (url, shot))
    with open(shot, "rb") as f:
        return decode_png(f.read())


@needs_chromium
def test_chromium_shows_why(why, tmp_path):
    """XFAIL instead of FAIL, the modem-side cause linked to the first failing row of the
    diagram, the driver killed at the timeout marked, curly quotes shown as such, the
    repeated finding counted once, unchecked passes flagged."""
    d, out, rep = why
    url = "file://" + os.path.join(out, "report.html")
    png = screenshot(tmp_path, url, "1400,4000")
    root = dom(chromium(tmp_path, url, "--dump-dom"))
    summary = root.find_all("table", "summary")[0]
    head = [th.text() for th in summary.find_all("th")]
    assert head == ["model", "scenario", "result", "reasons", "driver", "broker",
                    "modem-side cause", "findings", "time"]
    rows = {tr.find_all("td")[1].text(): tr for tr in summary.find_all("tr")[1:]}
    tds = {k: [td.text().strip() for td in tr.find_all("td")] for k, tr in rows.items()}
    assert tds["connack-refused"][2] == "XFAIL"
    assert tds["connack-refused"][3].startswith(
        "failed as the scenario expects (the broker refuses everyone)")
    assert tds["connack-refused"][6] == "CONNACK return code 0 made 5 (mqtt.connack)"
    link = rows["connack-refused"].find_all("td", "cause")[0].find_all("a")[0]
    assert link.attrs["href"] == "#ec25-connack-refused-fail"
    assert tds["hang"][2:5] == ["FAIL", "driver did not finish within 4 s (killed)", "timeout"]
    assert tds["quotes"][2] == "FAIL"  # a non-ascii finding is an error
    assert tds["quotes"][7] == "2\u00d7 non-ascii (error)", tds["quotes"]
    # the cause (the command's ERROR and why) shows the quotes too
    assert tds["quotes"][6].startswith("AT+QSSLCFG=\u201c\\xe2\\x80\\x9csslversion"), tds["quotes"]
    assert tds["silent"][2] == "PASS UNCHECKED"
    assert "\u2691 no AT traffic: the driver never wrote to the modem" in tds["silent"][3]
    assert "\u2691 no expectation: no --expect-topic" in tds["silent"][3]
    assert "1 xfail" in root.find_all("table", "kv")[0].text()

    secs = {s.attrs["id"]: s for s in root.find_all("section", "cell")}
    # The link's target: the first failing row, marked, the fault's effect.
    target = [tr for tr in secs["ec25-connack-refused"].find_all("tr")
              if tr.attrs.get("id") == "ec25-connack-refused-fail"]
    assert len(target) == 1 and "first-fail" in target[0].classes()
    assert "CONNACK return code 0 made 5" in target[0].text()
    assert secs["ec25-connack-refused"].find_all("h2")[0].text() == "XFAIL ec25 \u00d7 " \
        "connack-refused"
    # Killed at the timeout: a band where it happened, after what the modem did before.
    killed = secs["ec25-hang"].find_all("tr", "k-driver")
    assert [k.find_all("td", "band")[0].text() for k in killed] == [
        "DRIVER KILLED: no exit within 4 s (timeout), SIGTERM"]
    assert killed[0].classes() == ["ev", "k-driver", "sev-killed"]
    # Curly quotes: the characters, their bytes, and their names.
    marks = secs["ec25-quotes"].find_all("table", "seq")[0].find_all("mark", "na")
    assert [m.text() for m in marks[:2]] == ["\u201c\\xe2\\x80\\x9c", "\u201d\\xe2\\x80\\x9d"]
    assert marks[0].attrs["title"] == "U+201C LEFT DOUBLE QUOTATION MARK, bytes \\xe2\\x80\\x9c"
    fnd = secs["ec25-quotes"].find_all("ul", "findings")[0].find_all("li")
    assert len(fnd) == 1 and fnd[0].text().startswith("2\u00d7 error non-ascii: "), fnd[0].text()
    assert "(first at transcript line" in fnd[0].text()

    n = count_colours(png, (XFAIL_GREEN, KILLED_GREY, NON_ASCII_YELLOW, FLAG_YELLOW))
    assert n[XFAIL_GREEN] > 200 and n[FLAG_YELLOW] > 200, n  # badges
    assert n[KILLED_GREY] > 2000, n  # the band across the diagram
    assert n[NON_ASCII_YELLOW] > 50, n


@needs_chromium
def test_chromium_single_run_report(why, tmp_path):
    """`modemsim-report --trace` of one run: model and scenario from the trace, and a run
    that ended in a failure URC is a FAIL, its cause named."""
    d, out, rep = why
    cdir = os.path.join(out, "ec25-connack-refused")
    page = str(tmp_path / "run.html")
    assert report.main(["--trace", os.path.join(cdir, "trace.jsonl"), "--log",
                        os.path.join(cdir, "transcript.log"), "--out", page]) == 0
    url = "file://" + page
    png = screenshot(tmp_path, url, "1200,900")
    root = dom(chromium(tmp_path, url, "--dump-dom"))
    assert root.find_all("h1")[0].text() == "modemsim run: ec25 \u00d7 connack-refused"
    tds = [td.text().strip() for td in root.find_all("table", "summary")[0].find_all("td")]
    assert tds[:4] == ["ec25", "connack-refused", "FAIL",
                       "the run ended in a failure: +QMTSTAT: 0,1"], tds  # after 0,0,5
    assert tds[6] == "CONNACK return code 0 made 5 (mqtt.connack)"
    n = count_colours(png, (FAIL_RED, PASS_GREEN))
    assert n[FAIL_RED] > 200 and n[PASS_GREEN] == 0, n
