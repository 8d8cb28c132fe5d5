"""Rate limits and latency/drop injection (own broker: these settings are global)."""

import time
import unittest

from emu import Broker, connected_device, new_device, request

REQ = "v1/devices/me/attributes/request/"
RES = "v1/devices/me/attributes/response/"


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = Broker().start()

    @classmethod
    def tearDownClass(cls):
        cls.b.cleanup()

    def tearDown(self):
        request(self.b, "settings.set", {"messages": None, "telemetryMessages": None,
                                         "telemetryDataPoints": None, "latencyMs": None,
                                         "dropProbability": None})

    def test_message_rate_limit_closes_session(self):
        request(self.b, "settings.set", {"messages": "3:600"})
        _, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            for i in range(3):
                d.pub("v1/devices/me/telemetry", {"i": i})
            d.c.publish("v1/devices/me/telemetry", '{"i":3}', 1)
            self.assertTrue(d.disconnected.wait(5))
        finally:
            d.close()

    def test_data_point_limit(self):
        request(self.b, "settings.set", {"telemetryDataPoints": "4:600"})
        _, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            d.pub("v1/devices/me/telemetry", {"a": 1, "b": 2, "c": 3})
            d.c.publish("v1/devices/me/telemetry", '{"d":1,"e":2}', 1)
            self.assertTrue(d.disconnected.wait(5))
        finally:
            d.close()

    def test_latency_injection_delays_replies(self):
        request(self.b, "settings.set", {"latencyMs": 300})
        _, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            t0 = time.monotonic()
            d.pub(REQ + "1", b"{}")
            d.expect(RES + "1")
            self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        finally:
            d.close()

    def test_drop_injection_drops_replies(self):
        request(self.b, "settings.set", {"dropProbability": 1.0})
        _, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            d.pub(REQ + "1", b"{}")
            request(self.b, "settings.set", {"dropProbability": None})
            d.pub(REQ + "2", b"{}")
            self.assertEqual(d.expect()[0], RES + "2")  # the first reply was dropped
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()
