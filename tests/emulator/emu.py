"""Helpers for the emulator tests: a broker with the plugin, the admin tool, paho devices and a
raw MQTT socket client for byte-level checks. Every wait has a deadline; nothing sleeps blindly."""

import json
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import paho.mqtt.client as mqtt

BUILD_DIR = os.environ.get("EMU_BUILD_DIR", "")
PLUGIN = os.path.join(BUILD_DIR, "lib", "libtbmqtt_emulator.so")
ADMIN_TOOL = os.path.join(BUILD_DIR, "bin", "tbmqtt-emulator-admin")
HOST = "127.0.0.1"
WAIT = 5.0  # default deadline, seconds


def example_path(name):
    """An example binary: BUILD_DIR/bin/NAME, else BUILD_DIR/examples/linux/NAME (None if absent)."""
    for d in (os.path.join(BUILD_DIR, "bin"), os.path.join(BUILD_DIR, "examples", "linux"), BUILD_DIR):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")


def has_emulator_commands(*examples):
    """True when the CLI has `tbmqtt emulator` (and every named example is built)."""
    if not os.access(TBMQTT, os.X_OK) or not all(example_path(e) for e in examples):
        return False
    r = subprocess.run([TBMQTT, "emulator", "--help"], capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def cert_hash(pem_path):
    """ThingsBoard's X.509 credential: hex SHA3-256 of the one-line Base64 of the DER."""
    import base64, hashlib, ssl
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha3_256(base64.b64encode(der)).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port, deadline, proc=None):
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("broker exited with %s" % proc.returncode)
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            threading.Event().wait(0.02)  # polling a port that is not open yet
    raise RuntimeError("broker did not open port %d" % port)


class Broker:
    """mosquitto + plugin on a free loopback port with its own state dir."""

    def __init__(self, state_dir=None, port=None, extra_opts=""):
        self.port = port or free_port()
        self.own_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="tbemu-")
        self.extra_opts = extra_opts
        self.proc = None

    def write_config(self):
        admin_path = os.path.join(self.state_dir, "admin.json")
        admin = {}
        if os.path.exists(admin_path):
            with open(admin_path) as f:
                admin = json.load(f)
        admin.setdefault("password", os.urandom(16).hex())
        admin.update({"username": "tbmqtt-admin", "host": HOST, "port": self.port})
        with open(admin_path, "w") as f:
            json.dump(admin, f)
        conf = os.path.join(self.state_dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(
                "per_listener_settings false\nallow_anonymous true\nuser root\npersistence false\n"
                "set_tcp_nodelay true\nmax_queued_messages 0\nmax_packet_size 65540\n"
                "log_dest file %s/mosquitto.log\nlog_type all\n"
                "listener %d 127.0.0.1\nmax_qos 1\nplugin %s\nplugin_opt_state_dir %s\n%s"
                % (self.state_dir, self.port, PLUGIN, self.state_dir, self.extra_opts))
        return conf

    def start(self):
        conf = self.write_config()
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, time.monotonic() + 10, self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def shared_broker():
    """The broker run_tests.sh started (EMU_PORT/EMU_STATE), or a fresh one for a single test."""
    global _shared
    if os.environ.get("EMU_PORT"):
        b = Broker(state_dir=os.environ["EMU_STATE"], port=int(os.environ["EMU_PORT"]))
        return b
    if _shared is None:
        _shared = Broker().start()
        import atexit
        atexit.register(_shared.cleanup)
    return _shared


_shared = None


def messages(broker, device):
    """The device's time series grouped into messages (points of one message share its ts)."""
    series = request(broker, "telemetry.series", {"device": device})
    by_ts = {}
    for p in series:
        by_ts.setdefault(p["ts"], {})[p["key"]] = p["value"]
    return [by_ts[ts] for ts in sorted(by_ts)]


def wait_for(predicate, deadline_s=10.0):
    """Polls an admin query until it holds (the emulator saves device traffic asynchronously)."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class AdminError(Exception):
    pass


def admin(broker, *args, timeout=30):
    """Runs the admin tool (the admin library's front end); returns parsed JSON output."""
    r = subprocess.run([ADMIN_TOOL, "--state", broker.state_dir, "--port", str(broker.port)]
                       + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AdminError(r.stderr.strip())
    return json.loads(r.stdout)


def request(broker, command, args=None):
    return admin(broker, "request", command, json.dumps(args or {}))


_counter = [0]


def unique(prefix):
    _counter[0] += 1
    return "%s-%d-%d" % (prefix, os.getpid(), _counter[0])


def new_device(broker, name=None, **creds):
    """Adds a device; returns (name, token-or-None)."""
    name = name or unique("dev")
    args = ["device", "add", name]
    for k, v in creds.items():
        args += ["--" + k.replace("_", "-"), v]
    d = admin(broker, *args)
    return name, d["credentials"].get("token")


class Device:
    """A paho client playing a device; inbound messages land in a queue."""

    def __init__(self, broker, username=None, password=None, client_id=None, protocol=mqtt.MQTTv311):
        self.broker = broker
        self.protocol = protocol
        cid = client_id if client_id is not None else unique("cid")
        if protocol == mqtt.MQTTv5:
            self.c = mqtt.Client(client_id=cid, protocol=protocol)
        else:
            self.c = mqtt.Client(client_id=cid, clean_session=True, protocol=protocol)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.msgs = queue.Queue()
        self.connack = None
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subacks = {}
        self.suback_ev = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.msgs.put((m.topic, m.payload, m.qos))
        self.c.on_disconnect = lambda c, u, rc, *a: self.disconnected.set()
        self.c.on_subscribe = self._on_subscribe

    def _on_connect(self, c, u, flags, rc, props=None):
        self.connack = rc if isinstance(rc, int) else rc.value
        self.connected.set()

    def _on_subscribe(self, c, u, mid, granted, props=None):
        with self.suback_ev:
            self.subacks[mid] = [g if isinstance(g, int) else g.value for g in granted]
            self.suback_ev.notify_all()

    def connect(self):
        self.c.connect(HOST, self.broker.port, 60)
        self.c.loop_start()
        if not self.connected.wait(WAIT):
            raise AssertionError("no CONNACK")
        return self.connack

    def sub(self, topic, qos=1):
        rc, mid = self.c.subscribe(topic, qos)
        deadline = time.monotonic() + WAIT
        with self.suback_ev:
            while mid not in self.subacks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no SUBACK for " + topic)
                self.suback_ev.wait(left)
            return self.subacks[mid]

    def pub(self, topic, payload, qos=1):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload, separators=(",", ":"))
        info = self.c.publish(topic, payload, qos)
        info.wait_for_publish(WAIT)
        if not info.is_published():
            raise AssertionError("publish not acknowledged: " + topic)

    def expect(self, topic=None, timeout=WAIT):
        """Next message (optionally on `topic`); skips others. Returns (topic, payload bytes, qos)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no message on %s" % topic)
            try:
                m = self.msgs.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no message on %s" % topic)
            if topic is None or m[0] == topic:
                return m

    def expect_nothing(self, timeout=0.5):
        try:
            m = self.msgs.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("unexpected message %r" % (m,))

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def connected_device(broker, token, subs=(), protocol=mqtt.MQTTv311):
    d = Device(broker, username=token, protocol=protocol)
    rc = d.connect()
    if rc != 0:
        raise AssertionError("CONNACK %d" % rc)
    for s in subs:
        d.sub(s)
    return d


# ---- raw MQTT over a socket, for byte-exact checks of packets paho hides ----

def _enc_len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


class Raw:
    def __init__(self, broker):
        self.s = socket.create_connection((HOST, broker.port), timeout=WAIT)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connect(self, client_id="", username=None, password=None, version=4):
        flags = 0x02
        payload = _str(client_id)
        if username is not None:
            flags |= 0x80
            payload += _str(username)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
        var = _str("MQTT") + bytes([version, flags]) + struct.pack("!H", 60)
        if version == 5:
            var += b"\x00"
        body = var + payload
        self.s.sendall(b"\x10" + _enc_len(len(body)) + body)
        return self.read_packet()

    def publish(self, topic, payload, qos=1, mid=1, version=4):
        var = _str(topic) + (struct.pack("!H", mid) if qos else b"")
        if version == 5:
            var += b"\x00"
        body = var + payload
        self.s.sendall(bytes([0x30 | (qos << 1)]) + _enc_len(len(body)) + body)

    def read_packet(self):
        """Returns the whole packet bytes, or b'' when the server closed the connection."""
        try:
            h = self._read(1)
            if not h:
                return b""
            mult, n, lenb = 1, 0, b""
            while True:
                b = self._read(1)
                lenb += b
                n += (b[0] & 0x7F) * mult
                mult *= 128
                if not b[0] & 0x80:
                    break
            return h + lenb + self._read(n)
        except (ConnectionResetError, socket.timeout):
            return b""

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                return out
            out += chunk
        return out

    def close(self):
        self.s.close()


class CliEmulator:
    """`tbmqtt emulator start ARGS...` in the background with its own XDG_STATE_HOME, up once it
    printed the default device's token; stop() ends it (SIGTERM, then SIGKILL) and removes its home.
    Attributes: home, env (for further tbmqtt commands), state (its state dir), default_token, output."""

    def __init__(self, tbmqtt, args, prefix="tbcli-", timeout=30, home=None):
        self.home = home or tempfile.mkdtemp(prefix=prefix)
        self.env = dict(os.environ, XDG_STATE_HOME=self.home)
        self.env.pop("TBMQTT_TOKEN", None)
        self.state = os.path.join(self.home, "tbmqtt-emulator")
        self.proc = subprocess.Popen([tbmqtt, "emulator", "start"] + [str(a) for a in args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
        self.output = []
        self.default_token = None
        deadline = time.monotonic() + timeout
        while self.default_token is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("tbmqtt emulator start printed no token: %r" % self.output)
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            self.output.append(line)
            if line.startswith("default device token: "):
                self.default_token = line.split(": ", 1)[1].strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        shutil.rmtree(self.home, ignore_errors=True)


class DeviceTestCase(unittest.TestCase):
    """A fresh device per test, connected with its token to the shared broker: self.b (broker),
    self.name, self.token, self.d (the connected device, closed after the test)."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)
        self.d = connected_device(self.b, self.token)

    def tearDown(self):
        self.d.close()
