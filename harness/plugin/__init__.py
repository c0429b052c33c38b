"""The old way to load the plugin from a checkout, kept working (a directory, not plugin.py, so
that git follows plugin.py to modemsim_harness/plugin.py): `PYTHONPATH=<checkout>/harness
pytest -p plugin`. The plugin is modemsim_harness.plugin; after `pip install ./harness` it is
loaded by every pytest run without -p (harness/README.md)."""
pytest_plugins = ["modemsim_harness.plugin"]


def __getattr__(name):
    # `import plugin; plugin.modem_options(...)`; not in dir(): pytest registers nothing twice.
    import modemsim_harness.plugin as real
    return getattr(real, name)
