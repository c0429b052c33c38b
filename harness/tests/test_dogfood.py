"""This repository's tests use the public harness (issue 12): the AT helpers come from
modemsim_harness.at, not from private copies, and the tests wait on events, not sleeps. These
checks keep the duplication from creeping back."""
import ast
import functools
import glob
import inspect
import os
import re

from modemsim_harness import at

HERE = os.path.dirname(os.path.abspath(__file__))
# The public helpers, and the names the private copies had before they were merged into them.
SHARED = {n for n, f in vars(at).items() if inspect.isfunction(f) and f.__module__ == at.__name__
          and not n.startswith("_")}
FORMER = {"secwrite", "sec_write", "cmd_ok", "ok_cmd", "m95_pdp_up", "watcher",
          "watcher_factory", "wait_until"}
# time.sleep left in the tests: a driver script's own hang and back-off (test_conformance's
# DRIVER source), and a faked serial port's read timeout (test_examples). A silence that is
# the stimulus is at.pause(); every other wait is on an event with a deadline.
SLEEPS_MAX = 3


def _test_files():
    return sorted(f for f in glob.glob(os.path.join(HERE, "test_*.py"))
                  if os.path.basename(f) != "test_dogfood.py")


def configures_a_shared_helper(value):
    """functools.partial(at.<helper>, ...): a test's defaults for a public helper."""
    return (isinstance(value, ast.Call) and ast.unparse(value.func) in ("functools.partial",
                                                                        "partial")
            and value.args and isinstance(value.args[0], ast.Attribute)
            and ast.unparse(value.args[0].value) == "at" and value.args[0].attr in SHARED)


def test_the_shared_helpers_exist():
    assert {"ok", "err", "check", "urc", "quiet", "upload", "pdp_up", "mqtt_up"} <= SHARED
    assert callable(functools.partial(at.ok, "AT"))


def test_no_test_file_redefines_a_shared_helper():
    bad = []
    for path in _test_files():
        tree = ast.parse(open(path).read())
        name = os.path.basename(path)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and \
                    node.name in SHARED | FORMER:
                bad.append("%s:%d defines %s (use modemsim_harness.at)" %
                           (name, node.lineno, node.name))
            if isinstance(node, ast.Assign):
                for tgt in node.targets:
                    if isinstance(tgt, ast.Name) and tgt.id in SHARED | FORMER and \
                            not configures_a_shared_helper(node.value):
                        bad.append("%s:%d assigns %s" % (name, node.lineno, tgt.id))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("test_"):
                for alias in node.names:
                    if alias.name in SHARED:
                        bad.append("%s:%d imports %s from %s (import it from "
                                   "modemsim_harness.at)" % (name, node.lineno, alias.name,
                                                             node.module))
    assert not bad, "\n".join(bad)


def test_time_sleep_does_not_come_back():
    found = []
    for path in _test_files():
        for i, line in enumerate(open(path), 1):
            if re.search(r"\btime\.sleep\(", line):
                found.append("%s:%d: %s" % (os.path.basename(path), i, line.strip()))
    assert len(found) <= SLEEPS_MAX, (
        "%d time.sleep in the tests (at most %d): wait on an event with a deadline "
        "(control.wait_for, Tty.read_until, a query), or at.pause() for a silence that is the "
        "stimulus\n%s" % (len(found), SLEEPS_MAX, "\n".join(found)))
