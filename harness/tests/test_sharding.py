"""Sharding a fleet (README "Sharding a fleet"): two modemsim processes, `--index-base 0` and
`--index-base 2`, each `--broker none` with a route to one mosquitto the test runs (the
"external cluster"): the four modems are modems 0-3 of one fleet, with four distinct IMEIs,
and each one's publish reaches the broker under its own client id."""
import re

from modemsim import ModemSim  # noqa: F401  (the fixture's type)
from modemsim_harness.at import final_ok, mqtt_up


def test_two_shards_one_external_broker(modemsim, broker, subscriber):
    sub = subscriber(["shard/+"])
    route = "1883=127.0.0.1:%d" % broker.ports["plain"]
    shards = [modemsim("--broker", "none", "--route", route, "--count", "2", "--index-base",
                       str(base), "--seed", "7", model="ec25") for base in (0, 2)]
    one = modemsim("--broker", "none", "--count", "4", "--seed", "7", model="ec25")
    imeis = []
    for sim in shards:
        for i in range(2):
            t = sim.open(i)
            imei = re.search(rb"\r\n(\d{15})\r\n", final_ok(t, "AT+CGSN")).group(1).decode()
            imeis.append(imei)
            mqtt_up(t, host="127.0.0.1", cid="dev-%s" % imei)
            final_ok(t, 'AT+QMTPUB=0,0,0,0,"shard/%s","up"' % imei)
    # the shards' modems are the one-process fleet's modems 0-3
    assert imeis == [re.search(rb"\r\n(\d{15})\r\n", final_ok(one.open(i), "AT+CGSN")).group(1)
                     .decode() for i in range(4)]
    assert len(set(imeis)) == 4, imeis
    for imei in imeis:
        assert sub.wait_for(lambda m, imei=imei: m.topic == "shard/" + imei).payload == b"up"
