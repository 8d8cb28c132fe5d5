// Test fixture: the power of a simulated medium (crash_log, blob_storage). Host and Cortex-M test code.
#pragma once

namespace tbmqtt_test {

struct power_switch {
  long ops_left = -1;  // operations until the power fails; -1: never
  bool powered = true;
  /// Counts one operation down: false once the power is off (the operation that reaches 0 cuts it).
  bool allowed() noexcept {
    if (!powered) return false;
    if (ops_left == 0) {
      powered = false;
      return false;
    }
    if (ops_left > 0) --ops_left;
    return true;
  }
};

}  // namespace tbmqtt_test
