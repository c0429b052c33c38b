"""This repository's own tests (harness/tests). They load the packaged plugin
(modemsim_harness.plugin: the modem, control, broker, subscriber and pki fixtures, `--driver`),
exactly what `pip install ./harness` gives any other suite; pytest.ini's `pythonpath = harness`
makes the package importable here without installing it. pytest takes pytest_plugins only from
a conftest at the rootdir, hence this file.

The tests import the harness modules by their old top-level names (`import modemsim`, `from
control import Control`, `import fakebroker as fbk`, `import plugin`): here each such name IS the
packaged module (one object in sys.modules, so `modemsim.Timeout` is the plugin's Timeout), set
before any test module is collected. Outside this repository only `modemsim_harness.*` exists:
a user's own control.py or report.py cannot shadow it, and nothing edits sys.path.
"""
import importlib
import sys

# The entry point (pytest11) has the same name: an installed package is not registered twice.
pytest_plugins = ["modemsim_harness.plugin"]

OLD_NAMES = ("modemsim", "broker", "control", "fakebroker", "fixtures_broker", "plugin",
             "conformance", "report")


def pytest_configure(config):
    # After pytest_plugins (pytest imports the plugin itself, with assertion rewriting),
    # before collection imports a test module.
    for name in OLD_NAMES:
        sys.modules[name] = importlib.import_module("modemsim_harness." + name)
