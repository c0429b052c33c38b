"""Build hook only (metadata is in pyproject.toml): the installed package remembers the
checkout it was built from (modemsim_harness/_origin.py in the wheel, never in the tree), so
that it finds build/sim/modemsim, scenarios/ and certs/gen.sh there (modemsim_harness/paths.py).
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyOrigin(build_py):
    def run(self):
        super().run()
        checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.path.join(self.build_lib, "modemsim_harness", "_origin.py")
        with open(path, "w") as f:
            f.write('"""Written by setup.py at build time."""\nCHECKOUT = %r\n' % checkout)


setup(cmdclass={"build_py": BuildPyOrigin})
