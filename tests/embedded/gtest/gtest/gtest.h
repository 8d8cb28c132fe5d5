// tbmqtt — a tiny look-alike of GoogleTest for bare-metal targets (tests/embedded/run.sh).
//
// Supports the subset the unit tests use: TEST(suite, name), EXPECT_/ASSERT_ TRUE, FALSE, EQ, NE,
// LT, LE, GT, GE, plus STREQ/STRNE, DOUBLE_EQ/FLOAT_EQ/NEAR, SUCCEED, FAIL, ADD_FAILURE,
// GTEST_SKIP, RUN_ALL_TESTS and fixtures (TEST_F on a ::testing::Test, built on the stack). No
// death tests or parameterised tests. Streamed messages
// (`EXPECT_TRUE(x) << "why"`) are accepted and printed after the failure line.
//
// No heap: each TEST defines a static registration node that links itself into an intrusive list
// during static initialisation. Output goes through stdio (semihosting under picolibc).
#pragma once
// Comparisons such as EXPECT_EQ(1, v.size()) mix signedness exactly as with the real GoogleTest,
// which the host build includes as a system header; do the same so -Wsign-compare stays quiet.
#pragma GCC system_header
// No <cmath> here: picolibc's math.h declares global names such as `infinity()` and `nan()`
// that would clash with test-local constants of the same name.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace testing {
namespace internal {

using test_function = void (*)();

/// One registered test; a static node of the intrusive list of all tests.
struct test_entry {
  const char* suite;
  const char* name;
  test_function function;
  test_entry* next = nullptr;
  test_entry(const char* s, const char* n, test_function f) noexcept;
};

struct registry {
  test_entry* head = nullptr;
  test_entry* tail = nullptr;
  int count = 0;
};
// Constant-initialised, so it is ready before any test_entry constructor runs.
inline registry tests{};

/// State of the running test.
struct run_state {
  bool failed = false;
  bool skipped = false;
  const test_entry* current = nullptr;
};
inline run_state state{};

inline test_entry::test_entry(const char* s, const char* n, test_function f) noexcept : suite(s), name(n), function(f) {
  if (tests.tail) {
    tests.tail->next = this;
  } else {
    tests.head = this;
  }
  tests.tail = this;
  ++tests.count;
}

// ---- printing values ------------------------------------------------------------------------

inline void print_text(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }

inline void print_quoted(std::string_view s) {
  std::fputc('"', stdout);
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      std::fputc('\\', stdout);
      std::fputc(c, stdout);
    } else if (u < 0x20 || u == 0x7f) {
      std::printf("\\x%02x", u);
    } else {
      std::fputc(c, stdout);
    }
  }
  std::fputc('"', stdout);
}

template <typename T, typename = void>
struct is_string_viewable : std::false_type {};
template <typename T>
struct is_string_viewable<T, std::void_t<decltype(std::string_view(std::declval<const T&>()))>> : std::true_type {};

/// Prints a value when its type is easy to print; returns false when it printed nothing.
template <typename T>
bool print_value(const T& v) {
  using U = std::decay_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    print_text(v ? "true" : "false");
  } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
    print_text("nullptr");
  } else if constexpr (std::is_same_v<U, char>) {
    const unsigned char u = static_cast<unsigned char>(v);
    if (u >= 0x20 && u < 0x7f) {
      std::printf("'%c' (%d)", v, static_cast<int>(v));
    } else {
      std::printf("'\\x%02x' (%d)", u, static_cast<int>(v));
    }
  } else if constexpr (std::is_same_v<U, std::byte>) {
    std::printf("0x%02x", static_cast<unsigned>(v));
  } else if constexpr (std::is_enum_v<U>) {
    using I = std::underlying_type_t<U>;
    if constexpr (std::is_signed_v<I>) {
      std::printf("%lld", static_cast<long long>(static_cast<I>(v)));
    } else {
      std::printf("%llu", static_cast<unsigned long long>(static_cast<I>(v)));
    }
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    std::printf("%lld", static_cast<long long>(v));
  } else if constexpr (std::is_integral_v<U>) {
    std::printf("%llu", static_cast<unsigned long long>(v));
  } else if constexpr (std::is_floating_point_v<U>) {
    std::printf("%.17g", static_cast<double>(v));
  } else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) {
    if (v == nullptr) {
      print_text("nullptr");
    } else {
      print_quoted(std::string_view{v});
    }
  } else if constexpr (is_string_viewable<U>::value) {
    print_quoted(std::string_view(v));  // std::string_view, std::string, char arrays
  } else if constexpr (std::is_pointer_v<U>) {
    std::printf("0x%lx", static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(v)));
  } else {
    return false;
  }
  return true;
}

// ---- reporting ------------------------------------------------------------------------------

inline void begin_failure(const char* file, int line) {
  state.failed = true;
  std::printf("%s:%d: ", file, line);
}

/// Collects an optional streamed message after a failure and ends the line.
class message_sink {
 public:
  message_sink() = default;
  message_sink(const message_sink&) = delete;
  message_sink& operator=(const message_sink&) = delete;
  ~message_sink() {
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  template <typename T>
  message_sink& operator<<(const T& v) {
    if (first_) {
      print_text(" -- ");
      first_ = false;
    }
    if constexpr (std::is_same_v<T, char>) {
      std::fputc(v, stdout);
    } else if constexpr (std::is_convertible_v<const T&, const char*>) {
      const char* s = v;
      print_text(s ? s : "(null)");
    } else if constexpr (is_string_viewable<T>::value) {
      print_text(std::string_view(v));
    } else if (!print_value(v)) {
      print_text("?");
    }
    return *this;
  }

 private:
  bool first_ = true;
};

/// Lets `return assert_return{} = message_sink{} << ...;` leave a void test function.
struct assert_return {
  void operator=(const message_sink&) const noexcept {}
};

inline bool check_bool(bool ok, const char* text, bool expected, const char* file, int line) {
  if (ok) return true;
  begin_failure(file, line);
  std::printf("expected %s%s%s", expected ? "" : "!(", text, expected ? "" : ")");
  return false;
}

template <typename A, typename B>
void print_operands(const A& a, const B& b) {
  print_text(" (");
  if (!print_value(a)) print_text("?");
  print_text(" vs ");
  if (!print_value(b)) print_text("?");
  print_text(")");
}

enum class op { eq, ne, lt, le, gt, ge };

// The operator is a template argument, so that a type only needs the one the test uses.
template <op O, typename A, typename B>
bool check_op(const A& a, const B& b, const char* a_text, const char* b_text, const char* file, int line) {
  bool ok = false;
  const char* sym = "";
  if constexpr (O == op::eq) {
    ok = a == b;
    sym = "==";
  } else if constexpr (O == op::ne) {
    ok = a != b;
    sym = "!=";
  } else if constexpr (O == op::lt) {
    ok = a < b;
    sym = "<";
  } else if constexpr (O == op::le) {
    ok = a <= b;
    sym = "<=";
  } else if constexpr (O == op::gt) {
    ok = a > b;
    sym = ">";
  } else {
    ok = a >= b;
    sym = ">=";
  }
  if (ok) return true;
  begin_failure(file, line);
  std::printf("expected %s %s %s", a_text, sym, b_text);
  print_operands(a, b);
  return false;
}

inline bool check_str(bool want_equal, const char* a, const char* b, const char* a_text, const char* b_text,
                      const char* file, int line) {
  const bool equal = (a == nullptr || b == nullptr) ? a == b : std::strcmp(a, b) == 0;
  if (equal == want_equal) return true;
  begin_failure(file, line);
  std::printf("expected %s %s %s", a_text, want_equal ? "==" : "!=", b_text);
  print_operands(a, b);
  return false;
}

/// Distance in units in the last place between two doubles (GoogleTest allows 4).
inline std::uint64_t ulp_distance(double a, double b) {
  std::int64_t ia = 0;
  std::int64_t ib = 0;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  // Map the sign-magnitude representation onto a monotonic integer line.
  const auto biased = [](std::int64_t i) -> std::uint64_t {
    const std::uint64_t u = static_cast<std::uint64_t>(i);
    return (u >> 63) ? ~u + 1 : u | (std::uint64_t{1} << 63);
  };
  const std::uint64_t x = biased(ia);
  const std::uint64_t y = biased(ib);
  return x > y ? x - y : y - x;
}

inline std::uint32_t ulp_distance(float a, float b) {
  std::int32_t ia = 0;
  std::int32_t ib = 0;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  const auto biased = [](std::int32_t i) -> std::uint32_t {
    const std::uint32_t u = static_cast<std::uint32_t>(i);
    return (u >> 31) ? ~u + 1 : u | (std::uint32_t{1} << 31);
  };
  const std::uint32_t x = biased(ia);
  const std::uint32_t y = biased(ib);
  return x > y ? x - y : y - x;
}

template <typename F>
bool check_float_eq(F a, F b, const char* a_text, const char* b_text, const char* file, int line) {
  if (a == a && b == b && ulp_distance(a, b) <= 4) return true;  // a == a: not NaN
  begin_failure(file, line);
  std::printf("expected %s ~= %s", a_text, b_text);
  print_operands(a, b);
  return false;
}

inline bool check_near(double a, double b, double tolerance, const char* a_text, const char* b_text,
                       const char* tol_text, const char* file, int line) {
  if ((a < b ? b - a : a - b) <= tolerance) return true;
  begin_failure(file, line);
  std::printf("expected |%s - %s| <= %s", a_text, b_text, tol_text);
  print_operands(a, b);
  return false;
}

inline bool report_failure(const char* what, const char* file, int line) {
  begin_failure(file, line);
  print_text(what);
  return false;
}

inline bool report_skip(const char* file, int line) {
  state.skipped = true;
  std::printf("%s:%d: skipped", file, line);
  return false;
}

}  // namespace internal

/// Runs every registered test; prints `[ok]`/`[FAIL]` lines and a summary.
/// @return 0 when all passed, 1 otherwise.
inline int run_all_tests() {
  int failures = 0;
  int skipped = 0;
  for (const internal::test_entry* t = internal::tests.head; t != nullptr; t = t->next) {
    internal::state = internal::run_state{};
    internal::state.current = t;
    t->function();
    if (internal::state.failed) {
      ++failures;
      std::printf("[FAIL] %s.%s\n", t->suite, t->name);
    } else if (internal::state.skipped) {
      ++skipped;
      std::printf("[skip] %s.%s\n", t->suite, t->name);
    } else {
      std::printf("[ok] %s.%s\n", t->suite, t->name);
    }
    std::fflush(stdout);
  }
  internal::state.current = nullptr;
  std::printf("%d tests, %d failures", internal::tests.count, failures);
  if (skipped) std::printf(", %d skipped", skipped);
  std::printf("\n");
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

/// A fixture's base (TEST_F): SetUp() runs before the body, TearDown() after it, as in GoogleTest.
class Test {
 public:
  virtual ~Test() = default;
  virtual void SetUp() {}
  virtual void TearDown() {}
  virtual void TestBody() = 0;
};

namespace internal {
/// Runs one TEST_F: the fixture lives on the stack (no heap); the body is skipped after a fatal
/// failure or a skip in SetUp().
template <typename T>
void run_fixture() {
  T test;
  test.SetUp();
  if (!state.failed && !state.skipped) test.TestBody();
  test.TearDown();
}
}  // namespace internal

/// Accepted for source compatibility; the embedded runner takes no flags.
inline void InitGoogleTest(int* /*argc*/ = nullptr, char** /*argv*/ = nullptr) {}

}  // namespace testing

#define RUN_ALL_TESTS() ::testing::run_all_tests()

#define TBMQTT_GTEST_CAT2_(a, b) a##b
#define TBMQTT_GTEST_CAT_(a, b) TBMQTT_GTEST_CAT2_(a, b)

/// Defines and registers a test; the body follows as a block.
#define TEST(suite, name)                                                                                   \
  static void TBMQTT_GTEST_CAT_(suite, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _test_body)))();        \
  static ::testing::internal::test_entry TBMQTT_GTEST_CAT_(                                                 \
      suite, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _test_entry)))(                                   \
      #suite, #name, &TBMQTT_GTEST_CAT_(suite, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _test_body)))); \
  static void TBMQTT_GTEST_CAT_(suite, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _test_body)))()

/// Defines and registers a test on a fixture (a class derived from ::testing::Test).
#define TEST_F(fixture, name)                                                                                      \
  class TBMQTT_GTEST_CAT_(fixture, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _Test))) final : public fixture {  \
   public:                                                                                                         \
    void TestBody() override;                                                                                      \
  };                                                                                                               \
  static ::testing::internal::test_entry TBMQTT_GTEST_CAT_(                                                        \
      fixture, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _test_entry)))(                                        \
      #fixture, #name,                                                                                             \
      &::testing::internal::run_fixture<TBMQTT_GTEST_CAT_(fixture,                                                 \
                                                          TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _Test)))>); \
  void TBMQTT_GTEST_CAT_(fixture, TBMQTT_GTEST_CAT_(_, TBMQTT_GTEST_CAT_(name, _Test)))::TestBody()

// `switch (0) case 0: default:` keeps `if (x) EXPECT_TRUE(y); else ...` from binding the else.
#define TBMQTT_GTEST_CHECK_(passed, on_failure) \
  switch (0)                                    \
  case 0:                                       \
  default:                                      \
    if (passed)                                 \
      ;                                         \
    else                                        \
      on_failure
#define TBMQTT_GTEST_NONFATAL_ \
  ::testing::internal::message_sink {}
#define TBMQTT_GTEST_FATAL_ \
  return ::testing::internal::assert_return{} = ::testing::internal::message_sink {}

#define TBMQTT_GTEST_BOOL_(cond, expected, on_failure)                                                               \
  TBMQTT_GTEST_CHECK_(                                                                                               \
      ::testing::internal::check_bool(static_cast<bool>(cond) == (expected), #cond, (expected), __FILE__, __LINE__), \
      on_failure)
#define TBMQTT_GTEST_OP_(o, a, b, on_failure)                                                                          \
  TBMQTT_GTEST_CHECK_(::testing::internal::check_op<::testing::internal::op::o>((a), (b), #a, #b, __FILE__, __LINE__), \
                      on_failure)

#define EXPECT_TRUE(cond) TBMQTT_GTEST_BOOL_(cond, true, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_FALSE(cond) TBMQTT_GTEST_BOOL_(cond, false, TBMQTT_GTEST_NONFATAL_)
#define ASSERT_TRUE(cond) TBMQTT_GTEST_BOOL_(cond, true, TBMQTT_GTEST_FATAL_)
#define ASSERT_FALSE(cond) TBMQTT_GTEST_BOOL_(cond, false, TBMQTT_GTEST_FATAL_)

#define EXPECT_EQ(a, b) TBMQTT_GTEST_OP_(eq, a, b, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_NE(a, b) TBMQTT_GTEST_OP_(ne, a, b, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_LT(a, b) TBMQTT_GTEST_OP_(lt, a, b, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_LE(a, b) TBMQTT_GTEST_OP_(le, a, b, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_GT(a, b) TBMQTT_GTEST_OP_(gt, a, b, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_GE(a, b) TBMQTT_GTEST_OP_(ge, a, b, TBMQTT_GTEST_NONFATAL_)
#define ASSERT_EQ(a, b) TBMQTT_GTEST_OP_(eq, a, b, TBMQTT_GTEST_FATAL_)
#define ASSERT_NE(a, b) TBMQTT_GTEST_OP_(ne, a, b, TBMQTT_GTEST_FATAL_)
#define ASSERT_LT(a, b) TBMQTT_GTEST_OP_(lt, a, b, TBMQTT_GTEST_FATAL_)
#define ASSERT_LE(a, b) TBMQTT_GTEST_OP_(le, a, b, TBMQTT_GTEST_FATAL_)
#define ASSERT_GT(a, b) TBMQTT_GTEST_OP_(gt, a, b, TBMQTT_GTEST_FATAL_)
#define ASSERT_GE(a, b) TBMQTT_GTEST_OP_(ge, a, b, TBMQTT_GTEST_FATAL_)

#define TBMQTT_GTEST_STR_(equal, a, b, on_failure) \
  TBMQTT_GTEST_CHECK_(::testing::internal::check_str((equal), (a), (b), #a, #b, __FILE__, __LINE__), on_failure)
#define EXPECT_STREQ(a, b) TBMQTT_GTEST_STR_(true, a, b, TBMQTT_GTEST_NONFATAL_)
#define EXPECT_STRNE(a, b) TBMQTT_GTEST_STR_(false, a, b, TBMQTT_GTEST_NONFATAL_)
#define ASSERT_STREQ(a, b) TBMQTT_GTEST_STR_(true, a, b, TBMQTT_GTEST_FATAL_)
#define ASSERT_STRNE(a, b) TBMQTT_GTEST_STR_(false, a, b, TBMQTT_GTEST_FATAL_)

#define TBMQTT_GTEST_FLOAT_(F, a, b, on_failure) \
  TBMQTT_GTEST_CHECK_(::testing::internal::check_float_eq<F>((a), (b), #a, #b, __FILE__, __LINE__), on_failure)
#define EXPECT_DOUBLE_EQ(a, b) TBMQTT_GTEST_FLOAT_(double, a, b, TBMQTT_GTEST_NONFATAL_)
#define ASSERT_DOUBLE_EQ(a, b) TBMQTT_GTEST_FLOAT_(double, a, b, TBMQTT_GTEST_FATAL_)
#define EXPECT_FLOAT_EQ(a, b) TBMQTT_GTEST_FLOAT_(float, a, b, TBMQTT_GTEST_NONFATAL_)
#define ASSERT_FLOAT_EQ(a, b) TBMQTT_GTEST_FLOAT_(float, a, b, TBMQTT_GTEST_FATAL_)
#define TBMQTT_GTEST_NEAR_(a, b, tol, on_failure) \
  TBMQTT_GTEST_CHECK_(::testing::internal::check_near((a), (b), (tol), #a, #b, #tol, __FILE__, __LINE__), on_failure)
#define EXPECT_NEAR(a, b, tol) TBMQTT_GTEST_NEAR_(a, b, tol, TBMQTT_GTEST_NONFATAL_)
#define ASSERT_NEAR(a, b, tol) TBMQTT_GTEST_NEAR_(a, b, tol, TBMQTT_GTEST_FATAL_)

#define SUCCEED() static_cast<void>(0)
#define ADD_FAILURE() \
  TBMQTT_GTEST_CHECK_(::testing::internal::report_failure("failure", __FILE__, __LINE__), TBMQTT_GTEST_NONFATAL_)
#define FAIL() \
  TBMQTT_GTEST_CHECK_(::testing::internal::report_failure("failure", __FILE__, __LINE__), TBMQTT_GTEST_FATAL_)
#define GTEST_SKIP() TBMQTT_GTEST_CHECK_(::testing::internal::report_skip(__FILE__, __LINE__), TBMQTT_GTEST_FATAL_)
