// tbmqtt — allocation-free JSON reader and writer (see tbmqtt/json.hpp).
//
// The reader validates with an explicit stack (no recursion, so deep input cannot overflow the
// call stack) and afterwards walks the validated text lazily. Choices the RFC leaves open:
//  - strings must be well-formed UTF-8 (RFC 3629: no overlongs, no encoded surrogates);
//  - a \u escape of a lone surrogate is accepted by the grammar and decodes to U+FFFD.
// Portable core: no heap, no exceptions, no RTTI, no OS calls.
#include "tbmqtt/json.hpp"
#include "tbmqtt/detail/slice.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "tbmqtt/config.hpp"

namespace tbmqtt::json {
namespace {

constexpr std::size_t npos = std::string_view::npos;

/// The writer tracks containers in 32-bit masks, so it is limited to 32 levels.
constexpr std::uint8_t writer_max_depth = TBMQTT_JSON_MAX_DEPTH < 32 ? TBMQTT_JSON_MAX_DEPTH : 32;

constexpr bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::size_t skip_ws(std::string_view s, std::size_t i) noexcept {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

/// Length of the well-formed UTF-8 sequence at s[i] (a byte >= 0x80), or 0 if ill-formed.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned lead = byte(i);
  std::size_t len = 0;
  unsigned lo = 0x80, hi = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;  // excludes UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/// Records why and where the text is not JSON; returns npos.
std::size_t fault_at(syntax_fault& f, std::size_t at, syntax_error why) noexcept {
  f.offset = at;
  f.reason = why;
  return npos;
}

/// Checks the string starting at the quote s[i]; returns the index after the closing quote.
std::size_t scan_string(std::string_view s, std::size_t i, syntax_fault& f) noexcept {
  ++i;  // opening quote
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) return fault_at(f, i, syntax_error::control_character);
    if (c == '\\') {
      const std::size_t escape = i;
      if (++i >= s.size()) return fault_at(f, escape, syntax_error::invalid_escape);
      switch (s[i]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': ++i; break;
        case 'u':
          if (s.size() - i < 5) return fault_at(f, escape, syntax_error::invalid_escape);
          for (std::size_t k = 1; k <= 4; ++k) {
            if (hex_value(s[i + k]) < 0) return fault_at(f, escape, syntax_error::invalid_escape);
          }
          i += 5;
          break;
        default: return fault_at(f, escape, syntax_error::invalid_escape);
      }
    } else if (c < 0x80) {
      ++i;
    } else {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) return fault_at(f, i, syntax_error::invalid_utf8);
      i += n;
    }
  }
  return fault_at(f, i, syntax_error::unterminated_string);
}

/// Checks the number starting at s[i] (JSON grammar); returns the index after it.
std::size_t scan_number(std::string_view s, std::size_t i, syntax_fault& f) noexcept {
  const std::size_t n = s.size();
  const std::size_t start = i;
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return fault_at(f, i, syntax_error::expected_digit);
  if (s[i] == '0') {
    ++i;
    if (i < n && is_digit(s[i])) return fault_at(f, start, syntax_error::leading_zero);
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i])) ++i;
  } else {
    return fault_at(f, i, syntax_error::expected_digit);
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !is_digit(s[i])) return fault_at(f, i, syntax_error::expected_digit);
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !is_digit(s[i])) return fault_at(f, i, syntax_error::expected_digit);
    while (i < n && is_digit(s[i])) ++i;
  }
  return i;
}

std::size_t scan_literal(std::string_view s, std::size_t i, std::string_view word, syntax_fault& f) noexcept {
  if (s.size() - i < word.size() || s.compare(i, word.size(), word) != 0)
    return fault_at(f, i, syntax_error::expected_value);
  return i + word.size();
}

/// Checks `"key" ws : ws` at s[i]; returns the index of the member's value, or npos.
std::size_t scan_key(std::string_view s, std::size_t i, syntax_fault& f) noexcept {
  if (i >= s.size() || s[i] != '"') return fault_at(f, i, syntax_error::expected_member_name);
  i = scan_string(s, i, f);
  if (i == npos) return npos;
  i = skip_ws(s, i);
  if (i >= s.size() || s[i] != ':') return fault_at(f, i, syntax_error::expected_colon);
  return skip_ws(s, i + 1);
}

/// Validates a whole document. On success [begin, end) is the top-level value without whitespace.
bool scan_document(std::string_view s, std::size_t& begin, std::size_t& end, syntax_fault& f) noexcept {
  constexpr std::size_t words = (TBMQTT_JSON_MAX_DEPTH + 31) / 32 + 1;
  std::uint32_t is_object[words] = {};  // bit d: the container at depth d is an object
  const auto object_at = [&](std::size_t d) { return (is_object[d / 32] >> (d % 32)) & 1U; };
  const std::size_t n = s.size();
  std::size_t depth = 0;
  std::size_t i = skip_ws(s, 0);
  begin = i;
  for (;;) {
    // A value starts at i (whitespace already skipped).
    if (i >= n) return fault_at(f, i, syntax_error::expected_value), false;
    const char c = s[i];
    if (c == '{' || c == '[') {
      if (depth >= TBMQTT_JSON_MAX_DEPTH) return fault_at(f, i, syntax_error::too_deep), false;
      const bool obj = c == '{';
      if (obj) {
        is_object[depth / 32] |= 1U << (depth % 32);
      } else {
        is_object[depth / 32] &= ~(1U << (depth % 32));
      }
      ++depth;
      i = skip_ws(s, i + 1);
      if (i < n && s[i] == (obj ? '}' : ']')) {
        --depth;
        ++i;
      } else {
        if (obj && (i = scan_key(s, i, f)) == npos) return false;
        continue;  // the first member's value or the first element
      }
    } else if (c == '"') {
      i = scan_string(s, i, f);
    } else if (c == 't') {
      i = scan_literal(s, i, "true", f);
    } else if (c == 'f') {
      i = scan_literal(s, i, "false", f);
    } else if (c == 'n') {
      i = scan_literal(s, i, "null", f);
    } else if (c == '-' || is_digit(c)) {
      i = scan_number(s, i, f);
    } else {
      return fault_at(f, i, c == '\'' ? syntax_error::single_quotes : syntax_error::expected_value), false;
    }
    if (i == npos) return false;
    // A value ended at i: close containers until another value is due.
    for (;;) {
      if (depth == 0) {
        end = i;
        if (skip_ws(s, i) == n) return true;
        return fault_at(f, skip_ws(s, i), syntax_error::trailing_text), false;
      }
      i = skip_ws(s, i);
      const bool obj = object_at(depth - 1) != 0;
      const syntax_error expected =
          obj ? syntax_error::expected_comma_or_brace : syntax_error::expected_comma_or_bracket;
      if (i >= n) return fault_at(f, i, expected), false;
      if (s[i] == ',') {
        i = skip_ws(s, i + 1);
        if (obj && (i = scan_key(s, i, f)) == npos) return false;
        break;
      }
      if (s[i] != (obj ? '}' : ']')) return fault_at(f, i, expected), false;
      --depth;
      ++i;
    }
  }
}

/// Index after the string whose opening quote is s[i] (validated text; bounds still checked).
std::size_t skip_string(std::string_view s, std::size_t i) noexcept {
  ++i;
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  return i < s.size() ? i + 1 : s.size();
}

/// Index after the value starting at s[i] in validated text.
std::size_t skip_value(std::string_view s, std::size_t i) noexcept {
  const std::size_t n = s.size();
  if (i >= n) return n;
  const char c = s[i];
  if (c == '"') return skip_string(s, i);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (i < n) {
      const char k = s[i];
      if (k == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (k == '{' || k == '[') {
        ++depth;
      } else if (k == '}' || k == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return n;
  }
  while (i < n && !is_ws(s[i]) && s[i] != ',' && s[i] != ']' && s[i] != '}') ++i;
  return i;
}

std::size_t encode_utf8(std::uint32_t cp, char* out) noexcept {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

/// Reads 4 hex digits at s[i]; -1 if they are not there.
long read_hex4(std::string_view s, std::size_t i) noexcept {
  if (i > s.size() || s.size() - i < 4) return -1;
  long v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const int h = hex_value(s[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/// Decodes the character at body[i] (text between quotes, escapes kept) into out (4 bytes);
/// advances i and returns the number of bytes, or 0 on a malformed escape.
std::size_t decode_char(std::string_view body, std::size_t& i, char* out) noexcept {
  if (body[i] != '\\') {
    out[0] = body[i++];
    return 1;
  }
  if (i + 1 >= body.size()) return 0;
  const char e = body[i + 1];
  i += 2;
  switch (e) {
    case '"': out[0] = '"'; return 1;
    case '\\': out[0] = '\\'; return 1;
    case '/': out[0] = '/'; return 1;
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: return 0;
  }
  const long unit = read_hex4(body, i);
  if (unit < 0) return 0;
  i += 4;
  auto cp = static_cast<std::uint32_t>(unit);
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    // A high surrogate: combine with a following \u low surrogate, if there is one.
    if (i + 1 < body.size() && body[i] == '\\' && body[i + 1] == 'u') {
      const long low = read_hex4(body, i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        i += 6;
        return encode_utf8(0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00), out);
      }
    }
    cp = 0xFFFD;
  } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
    cp = 0xFFFD;  // a lone low surrogate
  }
  return encode_utf8(cp, out);
}

/// A validated number taken apart: [-] int_digits [. frac_digits] [e exponent].
struct number_parts {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
  std::int64_t exponent = 0;  // clamped to +-1e9; such numbers are out of any range anyway

  std::size_t digit_count() const noexcept { return int_digits.size() + frac_digits.size(); }
  char digit(std::size_t k) const noexcept {
    return k < int_digits.size() ? int_digits[k] : frac_digits[k - int_digits.size()];
  }
};

number_parts split_number(std::string_view s) noexcept {
  number_parts p;
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    p.negative = true;
    ++i;
  }
  std::size_t start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  p.int_digits = detail::slice(s, start, i - start);
  if (i < s.size() && s[i] == '.') {
    start = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    p.frac_digits = detail::slice(s, start, i - start);
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg_exp = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg_exp = s[i++] == '-';
    std::int64_t e = 0;
    while (i < s.size() && is_digit(s[i])) {
      if (e < 1000000000) e = e * 10 + (s[i] - '0');
      ++i;
    }
    p.exponent = neg_exp ? -e : e;
  }
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reader

result<void> validate(std::string_view text) noexcept { return validate(text, nullptr); }

result<void> validate(std::string_view text, syntax_fault* where) noexcept {
  std::size_t begin = 0, end = 0;
  syntax_fault fault;
  if (scan_document(text, begin, end, fault)) return {};
  if (where != nullptr) *where = fault;
  return errc::malformed;
}

result<value> value::parse(std::string_view text) noexcept {
  std::size_t begin = 0, end = 0;
  syntax_fault fault;
  if (!scan_document(text, begin, end, fault)) return errc::malformed;
  return from_validated(detail::slice(text, begin, end - begin));
}

value value::from_validated(std::string_view raw_value) noexcept {
  const std::size_t begin = skip_ws(raw_value, 0);
  if (begin >= raw_value.size()) return {};
  kind k = kind::absent;
  switch (raw_value[begin]) {
    case '{': k = kind::object; break;
    case '[': k = kind::array; break;
    case '"': k = kind::string; break;
    case 't':
    case 'f': k = kind::boolean; break;
    case 'n': k = kind::null; break;
    default:
      if (raw_value[begin] == '-' || is_digit(raw_value[begin])) k = kind::number;
      break;
  }
  if (k == kind::absent) return {};
  const std::size_t end = skip_value(raw_value, begin);
  return value{k, detail::slice(raw_value, begin, end - begin)};
}

value value::operator[](std::string_view key) const noexcept {
  for (const member m : members()) {
    if (key_equals(m.key, key)) return m.val;
  }
  return {};
}

value value::at(std::size_t index) const noexcept {
  for (const value v : elements()) {
    if (index-- == 0) return v;
  }
  return {};
}

std::size_t value::size() const noexcept {
  std::size_t n = 0;
  if (is_object()) {
    for (auto it = members().begin(); it != member_range::iterator{}; ++it) ++n;
  } else if (is_array()) {
    for (auto it = elements().begin(); it != element_range::iterator{}; ++it) ++n;
  }
  return n;
}

member_range value::members() const noexcept { return member_range{is_object() ? raw_ : std::string_view{}}; }

element_range value::elements() const noexcept { return element_range{is_array() ? raw_ : std::string_view{}}; }

result<bool> value::as_bool() const noexcept {
  if (!is_bool()) return errc::wrong_type;
  return raw_[0] == 't';
}

result<std::int64_t> value::as_int() const noexcept {
  if (!is_number()) return errc::wrong_type;
  const number_parts p = split_number(raw_);
  const std::size_t count = p.digit_count();
  // value = digits * 10^(exponent - frac); drop leading and trailing zeros of the digits.
  std::size_t first = 0;
  while (first < count && p.digit(first) == '0') ++first;
  if (first == count) return std::int64_t{0};
  std::size_t last = count;
  while (p.digit(last - 1) == '0') --last;
  const std::int64_t scale =
      p.exponent - static_cast<std::int64_t>(p.frac_digits.size()) + static_cast<std::int64_t>(count - last);
  if (scale < 0) return errc::wrong_type;  // has a fraction
  const std::int64_t significant = static_cast<std::int64_t>(last - first);
  if (significant + scale > 19) return errc::wrong_type;  // >= 10^19: beyond int64
  std::uint64_t mag = 0;
  for (std::size_t k = first; k < last; ++k) mag = mag * 10 + static_cast<std::uint64_t>(p.digit(k) - '0');
  for (std::int64_t k = 0; k < scale; ++k) mag *= 10;
  constexpr std::uint64_t max_pos = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (!p.negative) {
    if (mag > max_pos) return errc::wrong_type;
    return static_cast<std::int64_t>(mag);
  }
  if (mag > max_pos + 1) return errc::wrong_type;
  if (mag == max_pos + 1) return std::numeric_limits<std::int64_t>::min();
  return -static_cast<std::int64_t>(mag);
}

result<double> value::as_double() const noexcept {
  if (!is_number()) return errc::wrong_type;
#if TBMQTT_JSON_SMALL_FLOAT
  char text[64];  // strtod needs a terminator; longer numbers are not worth the flash
  if (raw_.size() >= sizeof text) return errc::wrong_type;
  std::memcpy(text, raw_.data(), raw_.size());
  text[raw_.size()] = '\0';
  char* end = nullptr;
  const double d = std::strtod(text, &end);
  if (end != text + raw_.size()) return errc::wrong_type;
  if (std::isfinite(d)) return d;  // strtod reads underflow as 0 already
  return errc::wrong_type;
#else
  double d = 0;
  const char* first = raw_.data();
  const char* last = first + raw_.size();
  const auto r = std::from_chars(first, last, d);
  if (r.ec == std::errc{} && r.ptr == last) return d;
  if (r.ec != std::errc::result_out_of_range) return errc::wrong_type;
  // Out of range: too large is an error, too small (underflow) reads as zero.
  const number_parts p = split_number(raw_);
  std::size_t lead = 0;
  while (lead < p.digit_count() && p.digit(lead) == '0') ++lead;
  const std::int64_t magnitude =
      static_cast<std::int64_t>(p.int_digits.size()) - static_cast<std::int64_t>(lead) + p.exponent;
  if (magnitude > 0) return errc::wrong_type;
  return p.negative ? -0.0 : 0.0;
#endif
}

result<std::string_view> value::as_string() const noexcept {
  if (!is_string()) return errc::wrong_type;
  const std::string_view body = detail::slice(raw_, 1, raw_.size() - 2);
  if (body.find('\\') != npos) return errc::need_more;
  return body;
}

result<std::string_view> value::as_string(span<char> buf) const noexcept {
  if (!is_string()) return errc::wrong_type;
  const std::string_view body = detail::slice(raw_, 1, raw_.size() - 2);
  std::size_t used = 0;
  char tmp[4];
  for (std::size_t i = 0; i < body.size();) {
    const std::size_t n = decode_char(body, i, tmp);
    if (n == 0) return errc::wrong_type;  // only possible for text that was never validated
    if (buf.size() - used < n) return errc::not_enough_space;
    std::memcpy(buf.data() + used, tmp, n);
    used += n;
  }
  return std::string_view{buf.data(), used};
}

bool key_equals(std::string_view raw_key, std::string_view text) noexcept {
  if (raw_key.find('\\') == npos) return raw_key == text;
  std::size_t j = 0;
  char tmp[4];
  for (std::size_t i = 0; i < raw_key.size();) {
    const std::size_t n = decode_char(raw_key, i, tmp);
    if (n == 0 || text.size() - j < n || std::memcmp(text.data() + j, tmp, n) != 0) return false;
    j += n;
  }
  return j == text.size();
}

member_range::iterator member_range::begin() const noexcept {
  iterator it;
  if (raw_.size() < 2 || raw_[0] != '{') return it;
  it.rest_ = detail::slice(raw_, 1);
  it.done_ = false;
  it.load();
  return it;
}

void member_range::iterator::load() noexcept {
  std::size_t i = skip_ws(rest_, 0);
  if (i < rest_.size() && rest_[i] == ',') i = skip_ws(rest_, i + 1);
  if (i >= rest_.size() || rest_[i] != '"') {
    *this = iterator{};
    return;
  }
  const std::size_t key_end = skip_string(rest_, i);
  current_.key = detail::slice(rest_, i + 1, key_end - i - 2);
  i = skip_ws(rest_, key_end);
  if (i < rest_.size() && rest_[i] == ':') ++i;
  i = skip_ws(rest_, i);
  const std::size_t value_end = skip_value(rest_, i);
  current_.val = value::from_validated(detail::slice(rest_, i, value_end - i));
  rest_ = detail::slice(rest_, value_end);
}

member_range::iterator& member_range::iterator::operator++() noexcept {
  if (!done_) load();
  return *this;
}

element_range::iterator element_range::begin() const noexcept {
  iterator it;
  if (raw_.size() < 2 || raw_[0] != '[') return it;
  it.rest_ = detail::slice(raw_, 1);
  it.done_ = false;
  it.load();
  return it;
}

void element_range::iterator::load() noexcept {
  std::size_t i = skip_ws(rest_, 0);
  if (i < rest_.size() && rest_[i] == ',') i = skip_ws(rest_, i + 1);
  if (i >= rest_.size() || rest_[i] == ']') {
    *this = iterator{};
    return;
  }
  const std::size_t value_end = skip_value(rest_, i);
  current_ = value::from_validated(detail::slice(rest_, i, value_end - i));
  if (!current_.present()) {  // not a value: only possible for text that was never validated
    *this = iterator{};
    return;
  }
  rest_ = detail::slice(rest_, value_end);
}

element_range::iterator& element_range::iterator::operator++() noexcept {
  if (!done_) load();
  return *this;
}

// ---------------------------------------------------------------------------------------------
// Writer

bool writer::put(std::string_view s) noexcept {
  if (error_ != errc{}) return false;
  if (s.size() > out_.size() - used_) {
    fail(errc::not_enough_space);
    return false;
  }
  if (!s.empty()) std::memcpy(out_.data() + used_, s.data(), s.size());
  used_ += s.size();
  return true;
}

bool writer::put(char c) noexcept { return put(std::string_view{&c, 1}); }

bool writer::before_value() noexcept {
  if (error_ != errc{}) return false;
  if (depth_ == 0) {
    if (root_done_) {
      fail(errc::invalid_argument);  // a second top-level value
      return false;
    }
    return true;
  }
  const std::uint32_t bit = 1U << (depth_ - 1);
  if (is_object_ & bit) {
    if (!expect_value_) {
      fail(errc::invalid_argument);  // a member value without key()
      return false;
    }
    expect_value_ = false;
    return true;
  }
  if (has_items_ & bit) {
    if (!put(',')) return false;
  }
  has_items_ |= bit;
  return true;
}

bool writer::put_escaped(std::string_view s) noexcept {
  if (!put('"')) return false;
  std::size_t plain = 0;  // start of the run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (!put(detail::slice(s, plain, i - plain))) return false;
    plain = i + 1;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    std::size_t len = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default: {
        constexpr char hex[] = "0123456789abcdef";
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xF];
        len = 6;
        break;
      }
    }
    if (!put(std::string_view{esc, len})) return false;
  }
  return put(detail::slice(s, plain)) && put('"');
}

bool writer::open(char c) noexcept {
  if (error_ != errc{}) return false;
  if (depth_ >= writer_max_depth) {
    fail(errc::not_enough_space);  // the nesting table is full
    return false;
  }
  if (!before_value() || !put(c)) return false;
  const std::uint32_t bit = 1U << depth_;
  if (c == '{') {
    is_object_ |= bit;
  } else {
    is_object_ &= ~bit;
  }
  has_items_ &= ~bit;
  ++depth_;
  return true;
}

bool writer::close(char c, bool object) noexcept {
  if (error_ != errc{}) return false;
  if (depth_ == 0 || ((is_object_ >> (depth_ - 1)) & 1U) != (object ? 1U : 0U) || expect_value_) {
    fail(errc::invalid_argument);
    return false;
  }
  if (!put(c)) return false;
  if (--depth_ == 0) root_done_ = true;
  return true;
}

writer& writer::begin_object() noexcept {
  open('{');
  return *this;
}

writer& writer::end_object() noexcept {
  close('}', true);
  return *this;
}

writer& writer::begin_array() noexcept {
  open('[');
  return *this;
}

writer& writer::end_array() noexcept {
  close(']', false);
  return *this;
}

writer& writer::key(std::string_view k) noexcept {
  if (error_ != errc{}) return *this;
  const std::uint32_t bit = depth_ == 0 ? 0 : 1U << (depth_ - 1);
  if (depth_ == 0 || !(is_object_ & bit) || expect_value_ || !valid_utf8(k)) {
    fail(errc::invalid_argument);
    return *this;
  }
  if ((has_items_ & bit) && !put(',')) return *this;
  has_items_ |= bit;
  if (put_escaped(k) && put(':')) expect_value_ = true;
  return *this;
}

writer& writer::value(bool b) noexcept {
  if (before_value() && put(b ? std::string_view{"true"} : std::string_view{"false"}) && depth_ == 0) root_done_ = true;
  return *this;
}

writer& writer::signed_value(long long v) noexcept {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  if (before_value() && put(std::string_view{buf, static_cast<std::size_t>(r.ptr - buf)}) && depth_ == 0) {
    root_done_ = true;
  }
  return *this;
}

writer& writer::unsigned_value(unsigned long long v) noexcept {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  if (before_value() && put(std::string_view{buf, static_cast<std::size_t>(r.ptr - buf)}) && depth_ == 0) {
    root_done_ = true;
  }
  return *this;
}

#if TBMQTT_JSON_SMALL_FLOAT
namespace {
// 15 significant digits when they read back exactly, else 17 (always exact). Not always the
// shortest form, but it needs only printf/strtod, which firmware links anyway.
std::size_t format_double(char (&buf)[32], double v) noexcept {
  int n = std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}
}  // namespace
#else
namespace {
std::size_t format_double(char (&buf)[32], double v) noexcept {
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return r.ec == std::errc{} ? static_cast<std::size_t>(r.ptr - buf) : 0;
}
}  // namespace
#endif

writer& writer::value(double v) noexcept {
  if (!std::isfinite(v)) {
    fail(errc::invalid_argument);
    return *this;
  }
  char buf[32];  // the shortest round-trip form of a double needs at most 24 characters
  const std::size_t size = format_double(buf, v);
  if (size == 0) {
    fail(errc::invalid_argument);
    return *this;
  }
  if (before_value() && put(std::string_view{buf, size}) && depth_ == 0) {
    root_done_ = true;
  }
  return *this;
}

writer& writer::value(std::string_view s) noexcept {
  if (error_ != errc{}) return *this;
  if (!valid_utf8(s)) {
    fail(errc::invalid_argument);
    return *this;
  }
  if (before_value() && put_escaped(s) && depth_ == 0) root_done_ = true;
  return *this;
}

writer& writer::null() noexcept {
  if (before_value() && put(std::string_view{"null"}) && depth_ == 0) root_done_ = true;
  return *this;
}

writer& writer::raw(std::string_view json_text) noexcept {
  if (error_ != errc{}) return *this;
  std::size_t begin = 0, end = 0;
  syntax_fault fault;
  if (!scan_document(json_text, begin, end, fault)) {
    fail(errc::invalid_argument);
    return *this;
  }
  return raw_trusted(detail::slice(json_text, begin, end - begin));
}

writer& writer::raw_trusted(std::string_view json_text) noexcept {
  if (before_value() && put(json_text) && depth_ == 0) root_done_ = true;
  return *this;
}

writer& writer::raw_trusted_more(std::string_view more) noexcept {
  if (error_ == errc{}) put(more);
  return *this;
}

result<std::string_view> writer::finish() const noexcept {
  if (error_ != errc{}) return error_;
  if (depth_ != 0 || expect_value_ || !root_done_) return errc::invalid_argument;
  return std::string_view{out_.data(), used_};
}

void writer::reset() noexcept {
  used_ = 0;
  error_ = errc{};
  depth_ = 0;
  expect_value_ = false;
  has_items_ = 0;
  is_object_ = 0;
  root_done_ = false;
}

}  // namespace tbmqtt::json
