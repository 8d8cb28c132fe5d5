// tbmqtt — entry point of the bare-metal unit-test image (see tests/embedded/run.sh).
// Runs every TEST linked into the image under semihosting and returns nonzero on failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tbmqtt/errc.hpp"

namespace {

// A violated precondition has no way back without exceptions: report it, name the test, stop.
void report_contract_violation(const char* condition, const char* file, int line) {
  const auto* t = ::testing::internal::state.current;
  std::printf("%s:%d: precondition failed: %s\n[FAIL] %s.%s (contract violation; run stopped)\n", file, line, condition,
              t ? t->suite : "?", t ? t->name : "?");
  std::fflush(stdout);
  std::exit(2);
}

#if defined(__arm__)
// Linker-script symbols of picolibc.ld: the stack occupies [__heap_end, __stack).
extern "C" char __heap_end[];  // NOLINT: name fixed by the linker script
extern "C" char __stack[];     // NOLINT: name fixed by the linker script
constexpr std::uint32_t stack_paint = 0x5ca1ab1eU;

std::uintptr_t stack_pointer() {
  std::uintptr_t sp = 0;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

// Fills the unused part of the stack with a pattern, so that its high-water mark can be read.
void paint_stack() {
  auto* p = reinterpret_cast<volatile std::uint32_t*>(__heap_end);
  auto* end = reinterpret_cast<volatile std::uint32_t*>(stack_pointer() - 256);
  while (p < end) *p++ = stack_paint;
}

void report_stack() {
  auto* p = reinterpret_cast<const volatile std::uint32_t*>(__heap_end);
  auto* end = reinterpret_cast<const volatile std::uint32_t*>(__stack);
  while (p < end && *p == stack_paint) ++p;
  const auto used =
      static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(end) - reinterpret_cast<std::uintptr_t>(p));
  const auto size = static_cast<unsigned long>(__stack - __heap_end);
  std::printf("stack high-water: %lu of %lu bytes%s\n", used, size,
              used >= size ? " (exhausted: raise __stack_size)" : "");
}
#else
void paint_stack() {}
void report_stack() {}
#endif

}  // namespace

int main() {
  paint_stack();
  tbmqtt::set_contract_handler(report_contract_violation);
  const int status = RUN_ALL_TESTS();
  report_stack();
  std::fflush(stdout);
  return status;
}
