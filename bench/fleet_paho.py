#!/usr/bin/env python3
"""The python yardstick of bench/fleet.sh: N simulated devices the way users of the python SDKs
write them, one paho-mqtt client object per device, each with its own network thread
(loop_start), publishing QoS 1 telemetry every PERIOD from the main thread.

ThingsBoard's own python SDK (tb-mqtt-client) is not installable here (only Debian and npm
packages are reachable); it wraps one paho client per device in exactly this way.

    fleet_paho.py PORT DEVICES PERIOD_S DURATION_S    prints one JSON line
"""
import json
import resource
import sys
import threading
import time

import paho.mqtt.client as mqtt

port, n, period, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
lock = threading.Lock()
state = {"connected": 0, "acked": 0, "sent": 0, "errors": 0}


def on_connect(c, u, f, rc):
    if rc == 0:
        with lock:
            state["connected"] += 1


def on_publish(c, u, mid):
    with lock:
        state["acked"] += 1


clients = []
t0 = time.monotonic()
connect_deadline = t0 + max(30.0, n / 200.0)
for i in range(n):
    c = mqtt.Client(client_id="paho-%d" % i, clean_session=True)
    c.username_pw_set("token-%d" % i)
    c.on_connect = on_connect
    c.on_publish = on_publish
    try:
        c.connect("127.0.0.1", port, 60)
        c.loop_start()
        clients.append(c)
    except Exception:
        state["errors"] += 1
    if time.monotonic() > connect_deadline:
        break
while state["connected"] < len(clients) and time.monotonic() < connect_deadline:
    time.sleep(0.05)
connect_s = time.monotonic() - t0
connected = state["connected"]
start = time.monotonic()
acked0 = state["acked"]
seq = 0
while time.monotonic() - start < duration:
    tick = time.monotonic()
    for c in clients:
        r = c.publish("v1/devices/me/telemetry", json.dumps({"temperature": 21.5, "seq": seq}), qos=1)
        if r.rc == 0:
            state["sent"] += 1
        else:
            state["errors"] += 1
    seq += 1
    left = period - (time.monotonic() - tick)
    if left > 0:
        time.sleep(left)
elapsed = time.monotonic() - start
acked = state["acked"] - acked0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"devices": n, "clients": len(clients), "connected": connected, "connectS": round(connect_s, 2),
                  "sent": state["sent"], "acknowledged": acked, "msgPerS": round(acked / elapsed, 1),
                  "errors": state["errors"], "cpuS": round(usage.ru_utime + usage.ru_stime, 2),
                  "maxRssKB": usage.ru_maxrss, "threads": threading.active_count()}), flush=True)
import os
os._exit(0)  # thousands of loop threads: do not wait for them
