// libFuzzer target for src/core/json.cpp: validates the input and, when it is JSON, walks the
// whole tree through every accessor, re-serialises it with the writer and checks that the result
// validates and reads back as the same tree. Any inconsistency traps.
#include "tbmqtt/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace {

namespace json = tbmqtt::json;
using tbmqtt::errc;
using tbmqtt::span;

constexpr std::size_t max_input = 16 * 1024;
// Re-serialising can grow a number (e.g. "1e9" -> "1000000000", "5e-1" -> "0.5"); a double never
// takes more than 24 characters and a number at least 1, so 25x the input always fits.
constexpr std::size_t max_output = 25 * max_input + 64;

char out_buffer[max_output];
char reparse_buffer[max_output];

void check(bool condition) {
  if (!condition) __builtin_trap();
}

/// Decodes a string value into `buf` (which is at least as large as the input) and cross-checks
/// the other ways of reading it.
std::string_view decode(json::value v, span<char> buf) {
  check(v.is_string());
  const auto full = v.as_string(buf);
  check(full.ok());
  const std::string_view raw_body = v.raw().substr(1, v.raw().size() - 2);
  const auto plain = v.as_string();
  if (raw_body.find('\\') == std::string_view::npos) {
    check(plain.ok() && plain.value() == full.value());
  } else {
    check(plain.error() == errc::need_more);
  }
  char small[8];
  const auto cut = v.as_string(small);
  if (full.value().size() <= sizeof small) {
    check(cut.ok() && cut.value() == full.value());
  } else {
    check(cut.error() == errc::not_enough_space);
  }
  check(json::key_equals(raw_body, full.value()));
  return full.value();
}

/// The member key as a string value (the quotes around it are part of the validated text).
json::value key_value(const json::member& m) {
  return json::value::from_validated(std::string_view{m.key.data() - 1, m.key.size() + 2});
}

void check_number(json::value v) {
  const auto i = v.as_int();
  const auto d = v.as_double();
  check(i.ok() || i.error() == errc::wrong_type);
  check(d.ok() || d.error() == errc::wrong_type);
  if (i.ok()) {
    check(d.ok());
    const std::int64_t n = i.value();
    if (n > -(std::int64_t{1} << 53) && n < (std::int64_t{1} << 53)) check(d.value() == static_cast<double>(n));
  }
}

/// Walks `v`, checking accessors, and writes it to `w`. `scratch` holds decoded strings.
void walk(json::value v, json::writer& w, span<char> scratch) {
  check(v.present());
  check(json::validate(v.raw()).ok());
  check(v.as_bool().ok() == v.is_bool());
  check(v.as_string().error() != errc::wrong_type || !v.is_string());
  switch (v.type()) {
    case json::kind::null: w.null(); break;
    case json::kind::boolean:
      check(v.raw() == (v.as_bool().value() ? std::string_view{"true"} : std::string_view{"false"}));
      w.value(v.as_bool().value());
      break;
    case json::kind::number: {
      check_number(v);
      if (const auto i = v.as_int(); i.ok()) {
        w.value(i.value());
      } else if (const auto d = v.as_double(); d.ok()) {
        w.value(d.value());
      } else {
        w.raw(v.raw());
      }
      break;
    }
    case json::kind::string: w.value(decode(v, scratch)); break;
    case json::kind::array: {
      check(!v["x"].present());
      w.begin_array();
      std::size_t n = 0;
      for (const json::value e : v.elements()) {
        if (n < 64) check(v.at(n).raw() == e.raw());
        walk(e, w, scratch);
        ++n;
      }
      check(n == v.size());
      check(!v.at(n).present());
      w.end_array();
      break;
    }
    case json::kind::object: {
      check(!v.at(0).present());
      w.begin_object();
      std::size_t n = 0;
      for (const json::member m : v.members()) {
        const std::string_view key = decode(key_value(m), scratch);
        if (n < 64) {
          // Lookup returns the first member with this key.
          json::value first;
          for (const json::member k : v.members()) {
            if (json::key_equals(k.key, key)) {
              first = k.val;
              break;
            }
          }
          check(first.present() && v[key].raw() == first.raw() && v[key].raw().data() == first.raw().data());
        }
        w.key(key);
        walk(m.val, w, scratch);
        ++n;
      }
      check(n == v.size());
      w.end_object();
      break;
    }
    case json::kind::absent: check(false); break;
  }
}

/// True if `a` and `b` hold the same values (numbers compared as doubles or as raw text).
bool same(json::value a, json::value b, span<char> sa, span<char> sb) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  switch (a.type()) {
    case json::kind::number: {
      const auto da = a.as_double();
      const auto db = b.as_double();
      if (da.ok() != db.ok()) return false;
      return da.ok() ? da.value() == db.value() : a.raw() == b.raw();
    }
    case json::kind::boolean: return a.as_bool().value() == b.as_bool().value();
    case json::kind::string: return a.as_string(sa).value() == b.as_string(sb).value();
    case json::kind::array: {
      auto ib = b.elements().begin();
      for (const json::value ea : a.elements()) {
        if (!same(ea, *ib, sa, sb)) return false;
        ++ib;
      }
      return true;
    }
    case json::kind::object: {
      auto ib = b.members().begin();
      for (const json::member ma : a.members()) {
        const json::member mb = *ib;
        if (!same(key_value(ma), key_value(mb), sa, sb) || !same(ma.val, mb.val, sa, sb)) return false;
        ++ib;
      }
      return true;
    }
    default: return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > max_input) return 0;
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  const bool valid = json::validate(text).ok();
  const auto parsed = json::value::parse(text);
  check(parsed.ok() == valid);
  json::syntax_fault where;
  check(json::validate(text, &where).ok() == valid);
  if (!valid) {
    check(parsed.error() == errc::malformed);
    // The fault lies inside the text (or at its end) and has a reason. Everything before it was
    // consistent with JSON: cut there, the text is a complete value followed by the trailing
    // text's whitespace (trailing_text), or fails exactly at its new end.
    check(where.offset <= size && where.reason != json::syntax_error::none);
    json::syntax_fault cut;
    const bool prefix_valid = json::validate(text.substr(0, where.offset), &cut).ok();
    if (where.reason == json::syntax_error::trailing_text) {
      check(prefix_valid);
    } else {
      check(!prefix_valid && cut.offset == where.offset);
    }
    return 0;
  }
  const json::value doc = parsed.value();
  check(json::value::from_validated(text).raw() == doc.raw());

  static char scratch[max_input];
  json::writer w{out_buffer};
  walk(doc, w, scratch);
  const auto out = w.finish();
  check(out.ok());
  check(json::validate(out.value()).ok());
  const auto again = json::value::parse(out.value());
  check(again.ok());
  static char scratch_a[max_input];
  static char scratch_b[max_input];
  check(same(doc, again.value(), scratch_a, scratch_b));

  // The same document into a buffer that is too small: only not_enough_space, never past the end.
  const std::size_t short_len = out.value().size() / 2;
  std::memset(reparse_buffer, '#', short_len + 16);
  json::writer small{span<char>{reparse_buffer, short_len}};
  walk(doc, small, scratch);
  check(small.finish().error() == (short_len < out.value().size() ? errc::not_enough_space : errc{}));
  check(small.size() <= short_len);
  for (std::size_t k = short_len; k < short_len + 16; ++k) check(reparse_buffer[k] == '#');
  check(std::memcmp(reparse_buffer, out.value().data(), small.size()) == 0);
  return 0;
}
