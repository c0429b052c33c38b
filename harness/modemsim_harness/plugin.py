"""modemsim's pytest plugin: fixtures for any test suite, and `pytest --driver CMD` to run a
host driver against the models x scenarios matrix (harness/conformance.py).

Installed (`pip install ./harness`, harness/README.md), pytest loads it by its entry point
(pytest11); in this repository the top-level conftest.py names it in pytest_plugins.

Fixtures (harness/README.md has a complete example):
  broker      a started mosquitto with the test PKI, users and ACL (harness/broker.py)
  subscriber  factory: subscriber(topics) -> client recording what the broker delivers
  sim_subscriber  factory: sim_subscriber(sim, topics) -> the same, at a ModemSim's embedded
              broker
  modem       a started modemsim, its tty open and its boot URCs read: a Modem (below). How it
              starts: @pytest.mark.modem(model=, timing=, scenario=, args=, broker=), or
              indirect parametrization with a dict or a model name
  control     the modem's live control socket (harness/control.py Control)
  pki         the test PKI (certs/gen.sh);  broker_factory  more brokers
"""
import os
import re
import time

import pytest

from . import at, conformance, report
from .control import Control
from .fixtures_broker import broker, broker_factory, pki, sim_subscriber, subscriber  # noqa: F401
from .modemsim import FINAL_RE, ModemSim, Timeout
from .paths import SCENARIOS

HOST = conformance.BROKER_HOST
DEFAULTS = {"model": "ec25", "timing": "fast", "scenario": None, "args": (),
            "broker": "fixture"}
URC_RE = re.compile(rb"\r\n([^\r\n]*)\r\n")


# ---------------------------------------------------------------- the Modem helper


class Response:
    """One command's answer: raw bytes; echo (None with ATE0); info lines; final result;
    urcs that arrived before the echo."""

    def __init__(self, line, raw):
        self.raw = raw
        self.echo = None
        self.urcs = []
        body = raw
        i = raw.find(line + b"\r")
        if i >= 0:
            self.urcs = [u.decode("latin-1") for u in URC_RE.findall(raw[:i])]
            self.echo = raw[i:i + len(line) + 1].decode("latin-1")
            body = raw[i + len(line) + 1:]
        parts = [p.decode("latin-1") for p in body.split(b"\r\n") if p]
        self.final = parts[-1] if parts else ""
        self.lines = parts[:-1]

    def __repr__(self):
        return "<Response %r %r>" % (self.lines, self.final)


class Modem:
    """A running modemsim and the host side of its tty. Every wait has a deadline (timeout,
    seconds) and raises modemsim.Timeout with what did arrive."""

    def __init__(self, sim, control_path, broker_=None):
        self.sim = sim
        self.model = sim.model
        self.tty = sim.open()
        self.control_path = control_path
        self.host = HOST
        self._broker = broker_
        self.urcs = []  # every URC seen, in order
        self._pending = []  # URCs not yet returned by urc()
        self._clients = []

    # -- bytes
    def write(self, data):
        self.tty.write(data)

    def expect(self, data, timeout=5.0):
        """The next bytes are exactly data."""
        return self.tty.expect(data, timeout)

    def quiet(self, seconds=0.2):
        """Nothing arrives for that long (the buffered URCs not yet claimed included)."""
        assert not self._pending, "unclaimed URCs: %r" % self._pending
        at.quiet(self.tty, seconds)

    # -- commands
    def cmd(self, line, timeout=5.0):
        """Send a command line, return its Response (up to the final result)."""
        if isinstance(line, str):
            line = line.encode()
        self.tty.write(line + b"\r")
        r = Response(line, self.tty.read_until(FINAL_RE, timeout))
        self._note_urcs(r.urcs)
        return r

    def ok(self, line, *lines, timeout=5.0):
        """The command answers OK; with lines given, exactly those information lines."""
        r = self.cmd(line, timeout)
        if r.final != "OK":
            why = self.why(line)
            raise AssertionError("%s: %r%s" % (line, r, "; the modem says: " + why if why
                                               else ""))
        if lines:
            assert r.lines == list(lines), "%s: lines %r, expected %r" % (line, r.lines,
                                                                          list(lines))
        return r

    def why(self, line, wait=1.0):
        """The modem's reason (its trace's "why") for the latest failed command of this
        command line, or None. The trace is written as the result goes out; a moment's wait
        covers the reader being quicker than the writer."""
        if isinstance(line, bytes):
            line = line.decode("latin-1")
        deadline = time.monotonic() + wait
        while True:
            recs = self.trace()
            for r in reversed(recs):
                if r.get("ev") == "cmd" and r.get("result") != "OK" and r.get("why") and \
                        r.get("cmd", "\0") in line:
                    return "%s (%s)" % (r["why"], r.get("result"))
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def error(self, line, code=None, timeout=5.0):
        """The command fails: ERROR, or with code `+CME ERROR: <code>`."""
        r = self.cmd(line, timeout)
        want = "ERROR" if code is None else "+CME ERROR: %s" % code
        assert r.final == want, "%s: %r, expected %s" % (line, r, want)
        return r

    def prompt(self, line, timeout=5.0):
        """A command that asks for data (AT+QMTPUB=..., AT+QISEND=...): up to its '> '."""
        if isinstance(line, str):
            line = line.encode()
        self.tty.write(line + b"\r")
        got = self.tty.read_until(re.compile(rb"\r\n> |" + FINAL_RE.pattern), timeout)
        assert got.endswith(b"> "), "%r: no prompt, got %r" % (line, got)
        self._note_urcs(Response(line, got).urcs)
        return got

    def data(self, payload, end=b"\x1a", timeout=5.0):
        """Send data after a prompt (Ctrl+Z ends it by default); its Response."""
        if isinstance(payload, str):
            payload = payload.encode()
        self.tty.write(payload + end)
        return Response(b"\x00", self.tty.read_until(FINAL_RE, timeout))

    # -- the byte-exact helpers of modemsim_harness.at, on this tty
    def upload(self, name, data, **kw):
        """at.upload: the model's file upload (AT+QFUPL, AT+QSECWRITE, AT+CCERTDOWN), every
        byte asserted."""
        assert not self._pending, "unclaimed URCs: %r" % self._pending
        return at.upload(self.tty, name, data, **kw)

    def mqtt_up(self, **kw):
        """at.mqtt_up: PDP and an MQTT session in the model's dialect, every answer exact."""
        assert not self._pending, "unclaimed URCs: %r" % self._pending
        return at.mqtt_up(self.tty, **kw)

    # -- URCs
    def _note_urcs(self, urcs):
        self.urcs += urcs
        self._pending += urcs

    def urc(self, expected, timeout=5.0):
        """The next URC that is exactly `expected` (str), or matches it (compiled regex:
        re.search); URCs before it are kept for later calls. Returns the URC line."""
        def hit(u):
            return u == expected if isinstance(expected, str) else expected.search(u)

        for i, u in enumerate(self._pending):
            if hit(u):
                del self._pending[i]
                return u
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                m = self.tty.read_until(URC_RE, max(left, 0))
            except Timeout:
                raise Timeout("no URC %r within %.1f s; unclaimed URCs %r, bytes %r" % (
                    expected if isinstance(expected, str) else expected.pattern, timeout,
                    self._pending, self.tty.buf)) from None
            u = URC_RE.search(m).group(1).decode("latin-1")
            self.urcs.append(u)
            if hit(u):
                return u
            self._pending.append(u)

    # -- the broker the modem talks to
    def subscriber(self, topics, qos=1, timeout=5.0):
        """A client subscribed to topics at the modem's broker (the broker fixture, or the
        embedded one); its .messages and .wait_for(predicate, timeout)."""
        if self._broker is not None:
            return self._broker.subscriber(topics, qos=qos, timeout=timeout)
        from .broker import embedded_subscriber  # paho: only for this
        c = embedded_subscriber(self.sim.broker, topics, qos,
                                "modem-sub-%d" % len(self._clients), timeout)
        self._clients.append(c)
        return c

    # -- what modemsim recorded
    def trace(self):
        return report.load_trace(self.sim.trace_path)

    def findings(self, severity=None):
        return [f for f in report.findings(self.trace())
                if severity is None or f["severity"] == severity]

    def transcript(self):
        return self.sim.transcript().decode("utf-8", "replace")

    def report(self, path=None, title=None, status=None, reasons=()):
        """Write the HTML report of this run (default: report.html in its workdir); status
        and reasons head it (default: fail when a finding is an error)."""
        path = path or os.path.join(self.sim.workdir, "report.html")
        return report.write_single(path, self.sim.trace_path, self.sim.log_path,
                                   title or "modemsim %s" % self.model, model=self.model,
                                   status=status, reasons=reasons)

    def close(self):
        for c in self._clients:
            c.close()
        self._clients = []
        return self.sim.stop()


def modem_options(request):
    """The modem fixture's options: defaults < @pytest.mark.modem(...) < indirect param."""
    opts = dict(DEFAULTS)
    for mark in reversed(list(request.node.iter_markers("modem"))):
        opts.update(mark.kwargs)
        if mark.args:
            opts["model"] = mark.args[0]
    param = getattr(request, "param", None)
    if isinstance(param, str):
        opts["model"] = param
    elif isinstance(param, dict):
        opts.update(param)
    unknown = set(opts) - set(DEFAULTS)
    if unknown:
        raise pytest.UsageError("modem: unknown option(s) %s (known: %s)" %
                                (", ".join(sorted(unknown)), ", ".join(DEFAULTS)))
    if opts["broker"] not in ("fixture", "embedded", "none"):
        raise pytest.UsageError("modem: broker=%r (expected 'fixture', 'embedded' or 'none')"
                                % opts["broker"])
    return opts


@pytest.fixture
def modem(request, tmp_path):
    """A modemsim (see modem_options) with its tty open and its boot URCs read. broker=
    "fixture" (default): every name resolves to the `broker` fixture, 1883 goes to its plain
    listener and 8883 to its TLS one; "embedded": modemsim's own broker (needed by the faults
    tls.cert, mqtt.session-lost and broker.restart); "none": no broker at all (--broker none).
    The control socket is always on.
    At teardown modemsim must exit 0 with no sanitizer report. When the test fails, an HTML
    report of the run is written and named in the failure output."""
    opts = modem_options(request)
    workdir = str(tmp_path / ("modem-" + opts["model"]))
    os.makedirs(workdir, exist_ok=True)
    control_path = conformance.control_path(os.path.join(workdir, "control.sock"))
    args = ["--control", control_path]
    b = None
    if opts["broker"] == "fixture":
        b = request.getfixturevalue("broker")
        args += ["--broker", "none", "--resolve", "*=127.0.0.1",
                 "--route", "1883=127.0.0.1:%d" % b.ports["plain"],
                 "--route", "8883=127.0.0.1:%d" % b.ports["tls"]]
    elif opts["broker"] == "none":
        args += ["--broker", "none"]
    scen = opts["scenario"]
    for s in ([scen] if isinstance(scen, (str, os.PathLike)) else scen or ()):
        args += ["--scenario", str(s)]
    args += list(opts["args"])
    sim = None
    try:
        sim = ModemSim(*args, model=opts["model"], timing=opts["timing"], workdir=workdir)
        m = Modem(sim, control_path, b)
    except BaseException:
        if sim is not None:
            sim.kill()
        conformance.control_path_done(control_path)
        raise
    request.node.__dict__.setdefault("_modemsim_modems", []).append(m)
    yield m
    rc = m.close()
    conformance.control_path_done(control_path)
    assert rc == 0, "modemsim exited %s: %s" % (rc, sim.stderr().decode(errors="replace"))


@pytest.fixture
def control(modem):
    """The modem's control socket: control.ok('on "AT+CSQ" error 3'), control.query(...)."""
    with Control(modem.control_path) as c:
        yield c


# ---------------------------------------------------------------- hooks


def pytest_addoption(parser):
    g = parser.getgroup("modemsim", "modemsim conformance (harness/conformance.py)")
    g.addoption("--driver", metavar="CMD", default=None,
                help="run this host driver command ({tty} is the modem's tty) against the "
                "models x scenarios matrix instead of the collected tests")
    g.addoption("--driver-models", metavar="LIST", default="ec25,m95",
                help="models, comma-separated (default ec25,m95)")
    g.addoption("--driver-scenarios", metavar="SCN", action="append", default=None,
                help="scenario files, globs or 'baseline'; repeatable or comma-separated "
                "(default: baseline and scenarios/*.scn)")
    g.addoption("--driver-expect-topic", metavar="T", action="append", default=[],
                help="a topic filter that must get a message (FILTER=~REGEX: payload too)")
    g.addoption("--driver-timeout", type=float, default=60.0, help="seconds per cell")
    g.addoption("--driver-timing", choices=("realistic", "fast"), default="realistic")
    g.addoption("--driver-settle", type=float, default=2.0)
    g.addoption("--driver-fail-on", choices=sorted(conformance.FAIL_ON), default="error")
    g.addoption("--driver-modemsim-arg", metavar="ARG", action="append", default=[])
    g.addoption("--driver-out", metavar="DIR", default="conformance-out",
                help="report directory (default ./conformance-out)")


def pytest_configure(config):
    # harness/conftest.py imports this hook; with -p plugin too it is called twice.
    if hasattr(config, "_modemsim_cells"):
        return
    config.addinivalue_line(
        "markers", "modem(model='ec25', timing='fast', scenario=None, args=(), "
        "broker='fixture'|'embedded'|'none'): how the modem fixture starts modemsim")
    config._modemsim_cells = []


class ConformanceFailure(Exception):
    def __init__(self, cell):
        super().__init__("; ".join(cell["reasons"]))
        self.cell = cell


class ConformanceMatrix(pytest.Collector):
    """The parent of the cells (node ids conformance::<model>-<scenario>); it collects
    nothing itself: pytest_collection_modifyitems makes the cells."""

    def collect(self):
        return []


class ConformanceItem(pytest.Item):
    """One cell of the matrix: the driver against one model and scenario."""

    def __init__(self, *, model, scenario, plan, **kw):
        super().__init__(**kw)
        self.model = model
        self.scenario = scenario
        self.plan = plan

    def runtest(self):
        p = self.plan
        cell = conformance.run_cell(p["driver"], self.model, self.scenario, p["out"],
                                    self.name, p["expect"], p["timeout"], p["timing"],
                                    p["modemsim_args"], p["settle"], p["fail_on"])
        self.config._modemsim_cells.append(cell)
        if cell["status"] == "skip":
            pytest.skip("; ".join(cell["reasons"]))
        if cell["status"] == "interrupted":
            raise KeyboardInterrupt  # pytest stops; pytest_sessionfinish writes the report
        if cell["status"] == "xfail":
            pytest.xfail("; ".join(cell["reasons"]))
        if cell["status"] != "pass":
            raise ConformanceFailure(cell)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ConformanceFailure):
            c = excinfo.value.cell
            out = ["%s: %s x %s" % (c["status"].upper(), c["model"], c["scenario"])]
            out += ["  - " + r for r in c["reasons"]]
            if c.get("cause"):
                out.append("the modem says: %s" % c["cause"]["text"])
            out.append("transcript: %s" % os.path.join(self.plan["out"],
                                                      c["files"]["transcript"]))
            out.append("report: %s#%s" % (os.path.join(self.plan["out"], "report.html"),
                                          c["id"]))
            return "\n".join(out)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.plan["out"], None, "conformance %s" % self.name


def _plan(config):
    opt = config.getoption
    try:
        models = conformance.parse_models(opt("driver_models"))
        specs = opt("driver_scenarios") or [
            conformance.BASELINE, os.path.join(SCENARIOS, "*.scn")]
        scenarios = conformance.resolve_scenarios(specs)
        expect = [conformance.parse_expect(e) for e in opt("driver_expect_topic")]
    except conformance.UsageError as e:
        raise pytest.UsageError(str(e))
    return {"driver": opt("driver"), "models": models, "scenarios": scenarios,
            "expect": expect, "timeout": opt("driver_timeout"), "timing": opt("driver_timing"),
            "settle": opt("driver_settle"), "fail_on": opt("driver_fail_on"),
            "modemsim_args": opt("driver_modemsim_arg"),
            "out": os.path.abspath(opt("driver_out"))}


def pytest_collection_modifyitems(session, config, items):
    """With --driver, the matrix replaces the collected tests (reported as deselected)."""
    if not config.getoption("driver"):
        return
    plan = _plan(config)
    config._modemsim_plan = plan
    if items:
        config.hook.pytest_deselected(items=list(items))
    matrix = ConformanceMatrix.from_parent(session, name="conformance", nodeid="conformance")
    items[:] = [ConformanceItem.from_parent(matrix, name=cid, model=model, scenario=sc,
                                            plan=plan)
                for cid, model, sc in conformance.cells_of(plan["models"], plan["scenarios"])]


def pytest_sessionfinish(session):
    config = session.config
    plan = getattr(config, "_modemsim_plan", None)
    if plan is None or not config._modemsim_cells:
        return
    rep = conformance.new_report(plan["driver"], plan["models"], plan["scenarios"],
                                 plan["expect"], plan["timeout"], plan["timing"],
                                 plan["fail_on"])
    rep["cells"] = config._modemsim_cells
    if rep["cells"][-1]["status"] == "interrupted":
        rep["interrupted"] = "Ctrl+C in cell %s" % rep["cells"][-1]["id"]
    conformance.summarize(rep)
    config._modemsim_report = report.write(plan["out"], rep)


def pytest_terminal_summary(terminalreporter, config):
    path = getattr(config, "_modemsim_report", None)
    if path:
        terminalreporter.write_line("conformance report: %s" % path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used the modem fixture names an HTML report of the run."""
    outcome = yield
    rep = outcome.get_result()
    modems = item.__dict__.get("_modemsim_modems")
    if not modems or not rep.failed or rep.when != "call":
        return
    if any(name == "modemsim" for name, _ in rep.sections):
        return  # the other copy of this hook (see pytest_configure) did it
    crash = getattr(rep.longrepr, "reprcrash", None)
    why = [crash.message.splitlines()[0][:300]] if crash and crash.message else []
    lines = []
    for m in modems:
        try:
            path = m.report(title=item.nodeid, status="fail", reasons=why)
            lines.append("%s: report %s, transcript %s" % (m.model, path, m.sim.log_path))
        except OSError as e:
            lines.append("%s: no report (%s)" % (m.model, e))
    rep.sections.append(("modemsim", "\n".join(lines)))
