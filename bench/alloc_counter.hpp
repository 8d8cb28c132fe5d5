// tbmqtt benchmarks — counts heap allocations (global operator new/new[] of the benchmark binary
// are replaced in alloc_counter.cpp). Only allocations between start and stop are counted.
#pragma once

#include <cstdint>

namespace bench {
/// Resets the count and starts counting operator new/new[] calls (all threads).
void start_counting_allocations() noexcept;
/// Stops counting. @return Allocations since start_counting_allocations().
std::uint64_t stop_counting_allocations() noexcept;
}  // namespace bench
