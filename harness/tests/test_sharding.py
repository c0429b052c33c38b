"""Sharding a fleet (README "Sharding a fleet"): two modemsim processes, `--index-base 0` and
`--index-base 2`, each `--broker none` with a route to one mosquitto the test runs (the
"external cluster"): the four modems are modems 0-3 of one fleet, with four distinct IMEIs,
and each one's publish reaches the broker under its own client id."""
import re

from modemsim import ModemSim  # noqa: F401  (the fixture's type)


def cmd_ok(t, line):
    got = t.cmd(line)
    assert got.endswith(b"\r\nOK\r\n"), (line, got)
    return got


def urc(t, text, timeout=10.0):
    t.read_until(b"\r\n" + text.encode() + b"\r\n", timeout=timeout)


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
            imei = re.search(rb"\r\n(\d{15})\r\n", cmd_ok(t, "AT+CGSN")).group(1).decode()
            imeis.append(imei)
            cmd_ok(t, "AT+QIACT=1")
            cmd_ok(t, 'AT+QMTOPEN=0,"127.0.0.1",1883')
            urc(t, "+QMTOPEN: 0,0")
            cmd_ok(t, 'AT+QMTCONN=0,"dev-%s"' % imei)
            urc(t, "+QMTCONN: 0,0,0")
            cmd_ok(t, 'AT+QMTPUB=0,0,0,0,"shard/%s","up"' % imei)
    # the shards' modems are the one-process fleet's modems 0-3
    assert imeis == [re.search(rb"\r\n(\d{15})\r\n", cmd_ok(one.open(i), "AT+CGSN")).group(1)
                     .decode() for i in range(4)]
    assert len(set(imeis)) == 4, imeis
    for imei in imeis:
        assert sub.wait_for(lambda m, imei=imei: m.topic == "shard/" + imei).payload == b"up"
