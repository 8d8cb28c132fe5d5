"""Reusable fixtures for integration tests against a real mosquitto broker.

- ``Broker``: starts ``mosquitto`` on a free loopback port with a config in a temp dir, waits
  until it accepts connections, follows its log (subscriptions, connections) and stops it by PID.
- ``ThingsBoardPeer``: a paho client that plays the ThingsBoard server on ``v1/devices/me/#``:
  records telemetry, attributes and claims, answers attribute requests and client-side RPCs
  (configurable, including malformed replies or none), pushes shared attributes, sends
  server-side RPCs and collects the device's replies.
- ``HoldingProxy``: a TCP proxy that can hold back broker->device bytes (to prove that a client
  waits for its acknowledgements).

Nothing here sleeps to wait: every wait is on an event with a deadline.

    with Broker() as broker, ThingsBoardPeer(broker) as peer:
        ... run the device ...
        peer.wait_until(lambda: len(peer.telemetry) == 3)
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

DEFAULT_TIMEOUT = 10.0


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_condition(cond, predicate, timeout, what):
    """With ``cond`` held: waits until predicate() is truthy; returns it or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        cond.wait(left)


class Broker:
    """A mosquitto broker on 127.0.0.1:<free port>.

    users: optional {username: password}; then a password_file is used and anonymous
    clients are refused (allow_anonymous false)."""

    def __init__(self, users=None, extra_config=()):
        self.users = dict(users or {})
        self.extra_config = list(extra_config)
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.dir = None
        self.log = []
        self._cond = threading.Condition()
        self._reader = None
        self._stdout = None
        self._barrier_count = 0

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout=DEFAULT_TIMEOUT):
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed")
        self.dir = tempfile.mkdtemp(prefix="tb-broker-")
        last_error = None
        for _ in range(5):  # the free port may be taken between free_port() and bind
            self.port = free_port()
            self._write_config()
            try:
                self._launch(timeout)
                return self
            except _PortInUse as e:
                last_error = e
        raise RuntimeError("could not start mosquitto: %s" % last_error)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, 15)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, 9)
                    self.proc.wait()
            self.proc = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _write_config(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "set_tcp_nodelay true",
            "max_queued_messages 0",
            "persistence false",
            "log_dest stdout",
            "log_timestamp false",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_type subscribe",
            "log_type unsubscribe",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        if self.users:
            pw = os.path.join(self.dir, "passwd")
            if os.path.exists(pw):
                os.unlink(pw)
            for i, (user, password) in enumerate(self.users.items()):
                args = ["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) + [pw, user, password]
                subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines += ["allow_anonymous false", "password_file %s" % pw]
        else:
            lines.append("allow_anonymous true")
        lines += self.extra_config
        self.config_path = os.path.join(self.dir, "mosquitto.conf")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _launch(self, timeout):
        with self._cond:
            self.log = []
        cmd = ["mosquitto", "-c", self.config_path]
        if shutil.which("stdbuf"):
            cmd = ["stdbuf", "-oL"] + cmd  # mosquitto does not flush its stdout log by itself
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        self._stdout = self.proc.stdout
        self._reader = threading.Thread(target=self._read_log, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        try:
            with self._cond:
                _wait_condition(self._cond, lambda: self._started_or_failed(), timeout, "mosquitto to start")
                if any("Address already in use" in l for l in self.log):
                    raise _PortInUse("port %d in use" % self.port)
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited: %s" % "\n".join(self.log))
            # Accepting connections?
            while True:
                try:
                    socket.create_connection((self.host, self.port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("mosquitto does not accept connections")
                    with self._cond:  # wait for more log output (or give the listener a moment)
                        self._cond.wait(0.05)
        except BaseException:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, 9)
            self.proc.wait()
            self._reader.join(timeout=5)
            self.proc.stdout.close()
            self.proc = None
            raise

    def _started_or_failed(self):
        if self.proc.poll() is not None:
            return True
        return any(" running" in l or "Address already in use" in l for l in self.log)

    def _read_log(self, proc):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.log.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    # ---- waiting on the broker's log ---------------------------------------------------------

    def wait_for_log(self, predicate, timeout=DEFAULT_TIMEOUT, what="a broker log line", start=0):
        """Waits for a log line (index >= start) with predicate(line); returns it."""
        def find():
            for line in self.log[start:]:
                if predicate(line):
                    return line
            return None
        with self._cond:
            return _wait_condition(self._cond, find, timeout, what)

    def log_mark(self):
        """Index to pass as ``start`` to only look at later log lines."""
        with self._cond:
            return len(self.log)

    def wait_for_subscription(self, client_id, topic, timeout=DEFAULT_TIMEOUT, start=0):
        """Waits until client ``client_id`` subscribed to ``topic`` (as the broker logs it)."""
        prefix = "%s " % client_id
        return self.wait_for_log(
            lambda l: l.startswith(prefix) and l.split(" ")[-1] == topic and len(l.split(" ")) == 3,
            timeout, "%s to subscribe to %s" % (client_id, topic), start)

    def wait_for_connection(self, client_id, timeout=DEFAULT_TIMEOUT, start=0):
        """Waits for the broker's "New client connected ... as <id>" line; returns it."""
        return self.wait_for_log(lambda l: "New client connected" in l and (" as %s " % client_id) in l,
                                 timeout, "%s to connect" % client_id, start)

    def barrier(self, timeout=DEFAULT_TIMEOUT):
        """Returns once every log line written before this call has been read."""
        with self._cond:
            self._barrier_count += 1
            cid = "barrier-%d-%d" % (os.getpid(), self._barrier_count)
        c = mqtt.Client(client_id=cid)
        c.connect(self.host, self.port, 10)
        c.loop_start()
        try:
            self.wait_for_connection(cid, timeout)
        finally:
            c.disconnect()
            c.loop_stop()

    def client_ever_connected(self, client_id):
        """After barrier(): True if ``client_id`` ever got connected (CONNACK accepted)."""
        with self._cond:
            return any("New client connected" in l and (" as %s " % client_id) in l for l in self.log)


class _PortInUse(Exception):
    pass


class ThingsBoardPeer:
    """Plays the ThingsBoard server for devices on ``v1/devices/me/...`` (one device at a time).

    Recorded (payload bytes, in arrival order): telemetry, attributes, claims,
    attribute_requests [(id, payload)], rpc_calls [(id, payload)] (client-side RPCs),
    rpc_replies {id: payload} (answers to server-side RPCs), other [(topic, payload)].

    Behaviour (set between tests; reset() restores defaults):
    - client_attributes / shared_attributes: dicts the default attribute reply is built from.
    - attribute_reply: None for the default, or callable(request_id, payload) -> bytes|str|None
      (None: do not answer).
    - rpc_reply: callable(request_id, method, params) -> bytes|str|dict|None (None: no answer).
      Default: no answer.
    """

    PREFIX = "v1/devices/me/"

    def __init__(self, broker, client_id=None):
        self.broker = broker
        self.client_id = client_id or "tb-peer-%d" % os.getpid()
        self._cond = threading.Condition()
        self._client = None
        self._subscribed = False
        self._barriers = set()
        self._barrier_count = 0
        self._next_rpc_id = 1000
        self.reset()

    def reset(self):
        with self._cond:
            self.telemetry = []
            self.attributes = []
            self.claims = []
            self.attribute_requests = []
            self.rpc_calls = []
            self.rpc_replies = {}
            self.other = []
            self.client_attributes = {}
            self.shared_attributes = {}
            self.attribute_reply = None
            self.rpc_reply = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout=DEFAULT_TIMEOUT):
        c = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5)
        c.on_socket_open = lambda client, userdata, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        self._client = c
        c.connect(self.broker.host, self.broker.port, 60, clean_start=True)
        c.loop_start()
        self.wait_until(lambda: self._subscribed, timeout, "the peer to subscribe")
        return self

    def stop(self):
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        # noLocal: the peer must not see its own pushes and requests on v1/devices/me/#.
        client.subscribe([(self.PREFIX + "#", SubscribeOptions(qos=1, noLocal=True)),
                          ("tb-peer-barrier/%s/#" % self.client_id, SubscribeOptions(qos=1))])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        with self._cond:
            self._subscribed = True
            self._cond.notify_all()

    # ---- waiting -----------------------------------------------------------------------------

    def wait_until(self, predicate, timeout=DEFAULT_TIMEOUT, what="a condition"):
        """Waits (under the peer's lock) until predicate() is truthy; returns its value."""
        with self._cond:
            return _wait_condition(self._cond, predicate, timeout, what)

    def barrier(self, timeout=DEFAULT_TIMEOUT):
        """Returns once every message the broker accepted before this call has reached the peer
        (a sentinel published now arrives after them)."""
        with self._cond:
            self._barrier_count += 1
            tag = str(self._barrier_count)
        c = mqtt.Client(client_id="%s-barrier-%s" % (self.client_id, tag))
        c.connect(self.broker.host, self.broker.port, 10)
        c.loop_start()
        try:
            c.publish("tb-peer-barrier/%s/%s" % (self.client_id, tag), b"", qos=1).wait_for_publish()
            self.wait_until(lambda: tag in self._barriers, timeout, "the peer barrier")
        finally:
            c.disconnect()
            c.loop_stop()

    # ---- the server's side -------------------------------------------------------------------

    def _publish(self, topic, payload, qos=1):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload, separators=(",", ":"))
        if isinstance(payload, str):
            payload = payload.encode()
        return self._client.publish(topic, payload, qos=qos)

    def push_shared(self, payload):
        """Sends a shared-attribute update (dict, str or bytes) to v1/devices/me/attributes."""
        self._publish(self.PREFIX + "attributes", payload).wait_for_publish()

    def send_rpc(self, method=None, params=None, request_id=None, payload=None):
        """Sends a server-side RPC on v1/devices/me/rpc/request/{id}; returns the id (str).
        params None leaves ``params`` out; ``payload`` overrides the whole body."""
        with self._cond:
            if request_id is None:
                self._next_rpc_id += 1
                request_id = self._next_rpc_id
        if payload is None:
            body = {"method": method}
            if params is not None:
                body["params"] = params
            payload = body
        self._publish(self.PREFIX + "rpc/request/%s" % request_id, payload).wait_for_publish()
        return str(request_id)

    def wait_rpc_reply(self, request_id, timeout=DEFAULT_TIMEOUT):
        """The device's reply (bytes) to server RPC ``request_id``."""
        rid = str(request_id)
        self.wait_until(lambda: rid in self.rpc_replies, timeout, "the reply to RPC %s" % rid)
        with self._cond:
            return self.rpc_replies[rid]

    def _default_attribute_reply(self, request_id, payload):
        try:
            req = json.loads(payload or b"{}")
        except ValueError:
            return None
        reply = {}
        for section, store, field in (("client", self.client_attributes, "clientKeys"),
                                      ("shared", self.shared_attributes, "sharedKeys")):
            keys = req.get(field)
            if not req.get("clientKeys") and not req.get("sharedKeys"):
                values = dict(store)
            elif keys:
                values = {k: store[k] for k in keys.split(",") if k in store}
            else:
                values = {}
            if values:
                reply[section] = values
        return reply

    def _on_message(self, client, userdata, msg):
        topic, payload = msg.topic, bytes(msg.payload)
        if topic.startswith("tb-peer-barrier/"):
            with self._cond:
                self._barriers.add(topic.rsplit("/", 1)[1])
                self._cond.notify_all()
            return
        rest = topic[len(self.PREFIX):] if topic.startswith(self.PREFIX) else None
        answer = None
        with self._cond:
            if rest == "telemetry":
                self.telemetry.append(payload)
            elif rest == "attributes":
                self.attributes.append(payload)
            elif rest == "claim":
                self.claims.append(payload)
            elif rest is not None and rest.startswith("attributes/request/"):
                rid = rest.rsplit("/", 1)[1]
                self.attribute_requests.append((rid, payload))
                fn = self.attribute_reply or self._default_attribute_reply
                answer = ("attributes/response/%s" % rid, fn(rid, payload))
            elif rest is not None and rest.startswith("rpc/request/"):
                rid = rest.rsplit("/", 1)[1]
                self.rpc_calls.append((rid, payload))
                if self.rpc_reply is not None:
                    try:
                        body = json.loads(payload)
                    except ValueError:
                        body = {}
                    answer = ("rpc/response/%s" % rid, self.rpc_reply(rid, body.get("method"), body.get("params")))
            elif rest is not None and rest.startswith("rpc/response/"):
                self.rpc_replies[rest.rsplit("/", 1)[1]] = payload
            else:
                self.other.append((topic, payload))
            self._cond.notify_all()
        if answer is not None and answer[1] is not None:
            self._publish(self.PREFIX + answer[0], answer[1])


class HoldingProxy:
    """TCP proxy 127.0.0.1:<port> -> broker. hold() stops forwarding broker->client bytes
    (they are buffered); release() sends them and forwards again."""

    def __init__(self, broker):
        self.broker = broker
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._held = False
        self._buffers = {}
        self._sockets = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self):
        with self._lock:
            self._held = True

    def release(self):
        with self._lock:
            self._held = False
            for client, data in self._buffers.items():
                if data:
                    try:
                        client.sendall(bytes(data))
                    except OSError:
                        pass
                    data.clear()

    def close(self):
        self._closed = True
        for s in [self._listener] + self._sockets:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.broker.host, self.broker.port))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._buffers[client] = bytearray()
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src, dst, downstream):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            with self._lock:
                if downstream and self._held:
                    self._buffers[dst] += data
                    continue
                try:
                    dst.sendall(data)
                except OSError:
                    return
