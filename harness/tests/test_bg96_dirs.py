"""BG96 file names with directories (issue 15): BG95/BG96 firmware, and the drivers written for
it, name files such as `AT+QFUPL="/security/cacert.pem",...`, `"UFS:/security/x"`, with a
lower-case `ufs:` prefix, and list them with `AT+QFLST="ufs:/security/*"`. The BG96 profile's
UFS: drive takes '/'-separated components (one leading '/', the drive's root, is dropped, so
"/security/a" and "security/a" are one file, listed as `"UFS:security/a"`: a choice, no capture
of a BG96 listing one was found); empty, "." and ".." components are the file-name error 406,
and on disk every file stays one flat file in <state>/<modem>/UFS/ ('/' written %2F), so no
name reaches a host directory. The EC25 and M95 keep their flat names (test_file_ec25.py).
"""
import os

import pytest

from broker import MqttClient
from modemsim_harness.at import check, download, err, ok, quiet, urc
from test_bg96 import BROKER_HOST, read_ca, ssl_configure, wiznet_upload as upload
from test_mqtt import pub_prompt


@pytest.fixture
def bg96(modemsim):
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", model="bg96")
    t = sim.open()
    t.sim = sim
    return t


def test_upload_list_download_delete_with_directories(bg96):
    upload(bg96, "/security/cacert.pem", b"ca")
    upload(bg96, "UFS:/security/client.pem", b"cert!")
    upload(bg96, "ufs:/security/sub/key.pem", b"key")
    upload(bg96, "top.txt", b"t")
    # the same file under each spelling
    line = 'AT+QFUPL="security/cacert.pem",2,100'
    check(bg96, line, err(line, "+CME ERROR: 407"))
    for spelling in ("/security/cacert.pem", "security/cacert.pem", "UFS:/security/cacert.pem",
                     "ufs:security/cacert.pem"):
        assert download(bg96, spelling) == b"ca"
    everything = ('+QFLST: "UFS:security/cacert.pem",2', '+QFLST: "UFS:security/client.pem",5',
                  '+QFLST: "UFS:security/sub/key.pem",3', '+QFLST: "UFS:top.txt",1')
    check(bg96, "AT+QFLST", ok("AT+QFLST", *everything))
    for pattern in ("ufs:/security/*", "UFS:security/*", "/security/*"):
        line = 'AT+QFLST="%s"' % pattern
        check(bg96, line, ok(line, *everything[:3]))
    line = 'AT+QFLST="/security/sub/*"'
    check(bg96, line, ok(line, everything[2]))
    line = 'AT+QFDEL="ufs:/security/client.pem"'
    check(bg96, line, ok(line))
    check(bg96, line, err(line, "+CME ERROR: 418"))
    line = 'AT+QFDEL="/security/*"'
    check(bg96, line, ok(line))
    check(bg96, "AT+QFLST", ok("AT+QFLST", everything[3]))


@pytest.mark.parametrize("name", [
    "/security/../x", "../x", "UFS:../x", "ufs:/../x", "/..", "/.", "security/./a", "a//b",
    "//a", "a/", "/", "UFS:/", "a\\b", "/a:b", "a/*", "a/?", "a/\x01", "/" + "x" * 80,
    "UFS:" + "x/" * 40 + "y", "RAM:/a",
])
def test_bad_names_give_406(bg96, name):
    for line in ('AT+QFUPL="%s",1' % name, 'AT+QFDWL="%s"' % name, 'AT+QFOPEN="%s"' % name):
        assert bg96.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 406\r\n", line


def test_longest_name_counts_the_leading_slash(bg96):
    name = "/" + "d/" * 39 + "n"  # 80 bytes as given
    assert len(name) == 80
    upload(bg96, name, b"ok")
    assert download(bg96, name) == b"ok"


def test_directories_stay_flat_files_in_the_state_dir(modemsim, tmp_path):
    state = tmp_path / "state"
    sim = modemsim("--broker", "none", model="bg96", state=str(state))
    t = sim.open()
    for name in ("/security/../../x", "../../x", "ufs:/../up", "/tmp/../evil", "a//b"):
        line = 'AT+QFUPL="%s",1' % name
        assert t.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 406\r\n"
        line = 'AT+QFDEL="%s"' % name
        assert t.cmd(line) == line.encode() + b"\r\r\n+CME ERROR: 406\r\n"
    upload(t, "/security/cacert.pem", b"ca")
    upload(t, "odd%name", b"%")
    assert sim.stop() == 0
    mine = str(state / "0")
    files = sorted(os.path.relpath(os.path.join(d, f), mine)
                   for d, _, fs in os.walk(mine) for f in fs)
    assert files == [os.path.join("UFS", "odd%25name"), os.path.join("UFS", "security%2Fcacert.pem")]
    assert [d for _, ds, _ in os.walk(str(state / "0" / "UFS")) for d in ds] == []
    everywhere = [f for _, _, fs in os.walk(str(tmp_path)) for f in fs]
    for leaked in ("x", "up", "evil", "b"):
        assert leaked not in everywhere
    # and they come back under their names after a restart
    sim = modemsim("--broker", "none", model="bg96", state=str(state))
    t = sim.open()
    check(t, "AT+QFLST", ok("AT+QFLST", '+QFLST: "UFS:security/cacert.pem",2',
                            '+QFLST: "UFS:odd%name",1'))
    assert download(t, "/security/cacert.pem") == b"ca"


def test_disk_names_of_another_spelling_are_ignored(modemsim, tmp_path):
    """A file put in the drive directory by hand under a name the store never writes (a bad
    escape, an escaped leading '/', an escaped "..") is not loaded."""
    ufs = tmp_path / "state" / "0" / "UFS"
    ufs.mkdir(parents=True)
    for bad in ("%2Fa", "a%2F..%2Fb", "a%41", "a%2F%2Fb"):
        (ufs / bad).write_bytes(b"x")
    (ufs / "d%2Fgood").write_bytes(b"g")
    sim = modemsim("--broker", "none", model="bg96", state=str(tmp_path / "state"))
    t = sim.open()
    check(t, "AT+QFLST", ok("AT+QFLST", '+QFLST: "UFS:d/good",1'))


def test_ec25_keeps_flat_names(modemsim):
    sim = modemsim("--broker", "none", model="ec25")
    t = sim.open()
    for name in ("/security/cacert.pem", "UFS:/security/x", "security/x"):
        line = 'AT+QFUPL="%s",1' % name
        check(t, line, err(line, "+CME ERROR: 406"))
    quiet(t)


def test_ca_in_a_directory_verifies_a_real_tls_mqtt_connection(modemsim):
    """The CA uploaded as "/security/cacert.pem" and named so in AT+QSSLCFG="cacert": MQTT over
    TLS to the embedded broker's TLS listener with seclevel 1 connects and carries a message."""
    sim = modemsim(model="bg96")
    t = sim.open()
    ca = read_ca(sim.broker["ca"])
    watcher = MqttClient("127.0.0.1", sim.broker["plain"], "bg96-dirs-watcher")
    try:
        assert watcher.connect() == 0
        watcher.subscribe("bg96/dirs", qos=1)
        check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
        upload(t, "/security/cacert.pem", ca)
        check(t, 'AT+QFLST="ufs:/security/*"',
              ok('AT+QFLST="ufs:/security/*"', '+QFLST: "UFS:security/cacert.pem",%d' % len(ca)))
        ssl_configure(t, 2, ("cacert", '"/security/cacert.pem"'), ("seclevel", "1"),
                      ("sni", "1"))
        check(t, 'AT+QMTCFG="ssl",0,1,2', ok('AT+QMTCFG="ssl",0,1,2'))
        line = 'AT+QMTOPEN=0,"%s",8883' % BROKER_HOST
        check(t, line, ok(line))
        urc(t, "+QMTOPEN: 0,0", timeout=10)
        check(t, 'AT+QMTCONN=0,"bg96-dirs"', ok('AT+QMTCONN=0,"bg96-dirs"'))
        urc(t, "+QMTCONN: 0,0,0")
        pub_prompt(t, 'AT+QMTPUB=0,0,0,0,"bg96/dirs"', b"hello")
        urc(t, "+QMTPUB: 0,0,0")
        m = watcher.wait_for(lambda m: m.topic == "bg96/dirs")
        assert m.payload == b"hello"
    finally:
        watcher.close()
