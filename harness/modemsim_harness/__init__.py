"""modemsim's test harness: pytest fixtures (plugin), the conformance runner and its report.

Modules (importing the package imports none of them; none edits sys.path):
  modemsim_harness.plugin       the pytest plugin (entry point pytest11: loaded by any pytest
                                run where this package is installed)
  modemsim_harness.modemsim     start the binary (ModemSim), its pty (Tty), Timeout
  modemsim_harness.at           AT helpers on a Tty: expected bytes, check, urc, quiet, upload,
                                PDP and MQTT bring-up per dialect
  modemsim_harness.control      the control-socket client
  modemsim_harness.broker       a real mosquitto with the test PKI; paho clients
  modemsim_harness.fakebroker   a misbehaving MQTT broker (standard library only)
  modemsim_harness.conformance  a host driver against models x scenarios (python3 -m ...)
  modemsim_harness.report       report.json and the HTML report (python3 -m ...)
  modemsim_harness.paths        where the binary, scenarios, certs/gen.sh and the PKI are
"""
