"""`python3 harness/conformance.py ...` from the checkout, as before: runs modemsim_harness.conformance
(installed: `python3 -m modemsim_harness.conformance`). Imported, this name is that module."""
import sys

import modemsim_harness.conformance as _real

if __name__ == "__main__":
    sys.exit(_real.main())
sys.modules[__name__] = _real
