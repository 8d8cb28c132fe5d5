// tbmqtt — allocation-free JSON: a validating reader that hands out views, and a writer into a
// caller buffer. Enough JSON for ThingsBoard payloads; app code needs no JSON library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt::json {

/// @brief The type of a JSON value.
enum class kind : std::uint8_t { absent, null, boolean, number, string, array, object };

/// @brief Checks that `text` is exactly one JSON value (RFC 8259; whitespace around it allowed,
/// nesting up to TBMQTT_JSON_MAX_DEPTH; strings must be well-formed UTF-8).
/// @return ok, or errc::malformed.
[[nodiscard]] result<void> validate(std::string_view text) noexcept;

/// @brief Why text is not JSON (see validate(text, where)).
enum class syntax_error : std::uint8_t {
  none,
  expected_value,             ///< A value was due (object, array, string, number, true, false, null).
  single_quotes,              ///< A string in single quotes (JSON takes double quotes).
  expected_member_name,       ///< An object member's name (a string in double quotes) was due.
  expected_colon,             ///< ':' after a member name.
  expected_comma_or_brace,    ///< ',' or '}' after an object member.
  expected_comma_or_bracket,  ///< ',' or ']' after an array element.
  unterminated_string,        ///< The text ended inside a string.
  control_character,          ///< An unescaped control character (below U+0020) in a string.
  invalid_escape,             ///< A backslash not followed by one of "\\/bfnrt or u and 4 hex digits.
  invalid_utf8,               ///< A string holds bytes that are not well-formed UTF-8.
  expected_digit,             ///< A digit was due in a number (after '-', '.', 'e' or 'E').
  leading_zero,               ///< A number starts with 0 and another digit.
  too_deep,                   ///< Nested deeper than TBMQTT_JSON_MAX_DEPTH.
  trailing_text,              ///< Text after the value.
};

/// @brief Where and why validation stopped: `offset` is a byte offset into the text (the text's
/// size when it ended too soon).
struct syntax_fault {
  std::size_t offset = 0;
  syntax_error reason = syntax_error::none;
};

/// @brief validate(text), and on errc::malformed, when `where` is not null, the first fault
/// found. No allocation.
[[nodiscard]] result<void> validate(std::string_view text, syntax_fault* where) noexcept;

class member_range;
class element_range;

/// @brief A view of one JSON value inside text that has been validated. Copying is cheap.
/// Views point into the parsed text: they are valid as long as that text is.
/// A default-constructed value is "absent" (kind::absent), which is what lookups of missing
/// members return, so lookups chain: `doc["a"]["b"].as_int()`.
class value {
 public:
  value() noexcept = default;

  /// @brief Validates `text` and returns a view of its single top-level value.
  /// @return The value, or errc::malformed.
  [[nodiscard]] static result<value> parse(std::string_view text) noexcept;

  kind type() const noexcept { return kind_; }
  bool present() const noexcept { return kind_ != kind::absent; }
  bool is_null() const noexcept { return kind_ == kind::null; }
  bool is_object() const noexcept { return kind_ == kind::object; }
  bool is_array() const noexcept { return kind_ == kind::array; }
  bool is_string() const noexcept { return kind_ == kind::string; }
  bool is_number() const noexcept { return kind_ == kind::number; }
  bool is_bool() const noexcept { return kind_ == kind::boolean; }

  /// @brief The exact JSON text of this value (strings keep their quotes and escapes).
  std::string_view raw() const noexcept { return raw_; }

  /// @brief The member named `key` (compared after unescaping) of an object; the first one if
  /// the key repeats. Absent if this is not an object or has no such member.
  value operator[](std::string_view key) const noexcept;
  /// @brief The element at `index` of an array; absent if out of range or not an array.
  value at(std::size_t index) const noexcept;

  /// @return The boolean, or errc::wrong_type.
  [[nodiscard]] result<bool> as_bool() const noexcept;
  /// @return The number if it is an integer that fits (no fraction; exponent allowed if the
  /// value is integral), or errc::wrong_type.
  [[nodiscard]] result<std::int64_t> as_int() const noexcept;
  /// @return The number as a double (a magnitude too small for a double reads as 0), or
  /// errc::wrong_type (not a number, or too large for a double).
  [[nodiscard]] result<double> as_double() const noexcept;
  /// @brief The string's text without unescaping; only valid when has_escapes() is false.
  /// @return The text between the quotes, or errc::wrong_type (not a string), or
  /// errc::need_more (the string has escapes: use as_string with a buffer).
  [[nodiscard]] result<std::string_view> as_string() const noexcept;
  /// @brief The string unescaped (UTF-8) into `buf`. A \\u escape of a lone UTF-16 surrogate
  /// decodes to U+FFFD.
  /// @return A view into `buf`, or errc::wrong_type, or errc::not_enough_space.
  [[nodiscard]] result<std::string_view> as_string(span<char> buf) const noexcept;

  /// @brief Members of an object, in order: `for (auto m : v.members()) m.key, m.val`.
  /// Empty range if this is not an object.
  member_range members() const noexcept;
  /// @brief Elements of an array, in order. Empty range if this is not an array.
  element_range elements() const noexcept;
  /// @brief Number of members or elements; 0 for scalars.
  std::size_t size() const noexcept;

  /// Internal: builds a view of already-validated text starting at a value.
  static value from_validated(std::string_view raw_value) noexcept;

 private:
  value(kind k, std::string_view raw) noexcept : kind_(k), raw_(raw) {}
  kind kind_ = kind::absent;
  std::string_view raw_;
};

/// @brief One member of an object: the key (raw, quotes removed, escapes kept) and its value.
struct member {
  std::string_view key;  ///< Key text between the quotes, escapes not decoded.
  value val;
};

/// @brief Forward range over the members of a validated object.
class member_range {
 public:
  class iterator {
   public:
    iterator() noexcept = default;
    member operator*() const noexcept { return current_; }
    iterator& operator++() noexcept;
    bool operator!=(const iterator& o) const noexcept { return rest_.data() != o.rest_.data() || done_ != o.done_; }

   private:
    friend class member_range;
    void load() noexcept;
    std::string_view rest_;
    member current_;
    bool done_ = true;
  };
  explicit member_range(std::string_view object_raw) noexcept : raw_(object_raw) {}
  iterator begin() const noexcept;
  iterator end() const noexcept { return {}; }

 private:
  std::string_view raw_;
};

/// @brief Forward range over the elements of a validated array.
class element_range {
 public:
  class iterator {
   public:
    iterator() noexcept = default;
    value operator*() const noexcept { return current_; }
    iterator& operator++() noexcept;
    bool operator!=(const iterator& o) const noexcept { return rest_.data() != o.rest_.data() || done_ != o.done_; }

   private:
    friend class element_range;
    void load() noexcept;
    std::string_view rest_;
    value current_;
    bool done_ = true;
  };
  explicit element_range(std::string_view array_raw) noexcept : raw_(array_raw) {}
  iterator begin() const noexcept;
  iterator end() const noexcept { return {}; }

 private:
  std::string_view raw_;
};

/// @brief Compares a raw key (escapes not decoded) with plain text.
bool key_equals(std::string_view raw_key, std::string_view text) noexcept;

/// @brief Writes JSON into a caller buffer; commas and quoting are automatic. Never allocates.
/// Errors are sticky: after the first one every call is ignored and finish() reports it.
///
///     char buf[128];
///     json::writer w{buf};
///     w.begin_object().key("temp").value(21.5).key("on").value(true).end_object();
///     auto text = w.finish();   // {"temp":21.5,"on":true}
class writer {
 public:
  explicit writer(span<char> out) noexcept : out_(out) {}

  writer& begin_object() noexcept;
  writer& end_object() noexcept;
  writer& begin_array() noexcept;
  writer& end_array() noexcept;
  /// @brief Writes a member key (escaped). Must be followed by exactly one value.
  writer& key(std::string_view k) noexcept;
  writer& value(bool b) noexcept;
  // Integers: one overload per standard type (std::int64_t is `long` on some targets and
  // `long long` on others, so it cannot have an overload of its own).
  writer& value(int v) noexcept { return signed_value(v); }
  writer& value(long v) noexcept { return signed_value(v); }
  writer& value(long long v) noexcept { return signed_value(v); }
  writer& value(unsigned v) noexcept { return unsigned_value(v); }
  writer& value(unsigned long v) noexcept { return unsigned_value(v); }
  writer& value(unsigned long long v) noexcept { return unsigned_value(v); }
  /// @brief Shortest text that reads back as the same double. NaN/inf set errc::invalid_argument.
  writer& value(double v) noexcept;
  writer& value(float v) noexcept { return value(static_cast<double>(v)); }
  /// @brief A string value, escaped as JSON requires. Not UTF-8: errc::invalid_argument.
  writer& value(std::string_view s) noexcept;
  writer& value(const char* s) noexcept { return value(std::string_view{s}); }
  writer& null() noexcept;
  /// @brief Inserts JSON text as one value, after validating it (errc::invalid_argument if not JSON).
  writer& raw(std::string_view json_text) noexcept;
  /// @brief Inserts JSON text as one value without validating it. @pre json_text is valid JSON.
  writer& raw_trusted(std::string_view json_text) noexcept;
  /// @brief Appends more text to the value raw_trusted() began (a value streamed in pieces, such
  /// as a long Base64 string). @pre the pieces together are one valid JSON value.
  writer& raw_trusted_more(std::string_view more) noexcept;

  /// @return The text written so far, or errc::not_enough_space / errc::invalid_argument
  /// (an earlier error, or an unbalanced document).
  [[nodiscard]] result<std::string_view> finish() const noexcept;
  /// @brief Bytes written so far.
  std::size_t size() const noexcept { return used_; }
  /// @brief The first error, or errc{} if none.
  errc error() const noexcept { return error_; }
  /// @brief Forgets everything written; reuses the same buffer.
  void reset() noexcept;

 private:
  writer& signed_value(long long v) noexcept;
  writer& unsigned_value(unsigned long long v) noexcept;
  bool put(std::string_view s) noexcept;
  bool put(char c) noexcept;
  bool before_value() noexcept;
  bool put_escaped(std::string_view s) noexcept;
  bool open(char c) noexcept;
  bool close(char c, bool object) noexcept;
  void fail(errc e) noexcept {
    if (error_ == errc{}) error_ = e;
  }

  span<char> out_;
  std::size_t used_ = 0;
  errc error_{};
  std::uint8_t depth_ = 0;
  bool expect_value_ = false;    // a key was written; its value comes next
  std::uint32_t has_items_ = 0;  // bit d: container at depth d already has an item
  std::uint32_t is_object_ = 0;  // bit d: container at depth d is an object
  bool root_done_ = false;
};

}  // namespace tbmqtt::json
