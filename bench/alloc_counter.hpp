// tbmqtt benchmarks — counts heap allocations (global operator new/new[] of the benchmark binary
// are replaced in alloc_counter.cpp). Only allocations between start and stop are counted.
#pragma once

#include <cstdint>
#include <cstdio>

namespace bench {
/// Resets the count and starts counting operator new/new[] calls (all threads).
void start_counting_allocations() noexcept;
/// Stops counting. @return Allocations since start_counting_allocations().
std::uint64_t stop_counting_allocations() noexcept;

/// @brief The counter sees one operator new; if not, "0 allocs/op" would prove nothing. Inline, not
/// in alloc_counter.cpp: there GCC would see this new beside the replaced delete's free().
/// @return false (after printing why to stderr) when it does not.
inline bool counter_sees_allocations() noexcept {
  start_counting_allocations();
  delete new volatile int(1);
  if (stop_counting_allocations() == 1) return true;
  std::fprintf(stderr, "FAIL: the allocation counter does not see operator new\n");
  return false;
}
}  // namespace bench
