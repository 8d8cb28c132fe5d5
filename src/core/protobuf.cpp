// tbmqtt — the schema-driven protobuf codec (include/tbmqtt/protobuf.hpp).
#include "tbmqtt/protobuf.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "tbmqtt/json.hpp"

namespace tbmqtt::protobuf {

// ---------------------------------------------------------------------------------------------
// Tables

const field_desc* message_desc::find(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < field_count; ++i)
    if (fields[i].json_name == key || fields[i].name == key) return &fields[i];
  return nullptr;
}

const field_desc* message_desc::find(std::uint32_t number) const noexcept {
  for (std::size_t i = 0; i < field_count; ++i)
    if (fields[i].number == number) return &fields[i];
  return nullptr;
}

wire wire_of(field_type t) noexcept {
  switch (t) {
    case field_type::double_:
    case field_type::fixed64:
    case field_type::sfixed64: return wire::i64;
    case field_type::float_:
    case field_type::fixed32:
    case field_type::sfixed32: return wire::i32;
    case field_type::string:
    case field_type::bytes:
    case field_type::message: return wire::len;
    default: return wire::varint;
  }
}

std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

namespace {

bool is_integer_type(field_type t) noexcept {
  return wire_of(t) != wire::len && t != field_type::double_ && t != field_type::float_ && t != field_type::bool_;
}

bool packable(field_type t) noexcept { return wire_of(t) != wire::len; }

/// 32-bit types: protobuf keeps the low 32 bits of the wire value.
bool narrow(field_type t) noexcept {
  return t == field_type::int32 || t == field_type::uint32 || t == field_type::sint32 || t == field_type::enum_ ||
         wire_of(t) == wire::i32;
}

std::uint64_t zigzag(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

bool utf8_ok(span<const std::byte> s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s.data()[k]); };
  while (i < n) {
    const unsigned c = at(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((at(i + k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (at(i + k) & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

/// Reads a varint at `pos`; false when truncated or longer than 10 bytes.
bool read_varint(span<const std::byte> in, std::size_t& pos, std::uint64_t& v) noexcept {
  v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (pos >= in.size()) return false;
    const auto b = static_cast<std::uint8_t>(in.data()[pos++]);
    v |= static_cast<std::uint64_t>(b & 0x7F) << (shift < 64 ? shift : 63);
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// writer

bool writer::put(const void* p, std::size_t n) noexcept {
  if (error_ != errc{}) return false;
  if (n > out_.size() - used_) {
    fail(errc::not_enough_space);
    return false;
  }
  std::memcpy(out_.data() + used_, p, n);
  used_ += n;
  return true;
}

bool writer::put_varint(std::uint64_t v) noexcept {
  std::uint8_t buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<std::uint8_t>(v);
  return put(buf, n);
}

writer& writer::tag(std::uint32_t number, wire w) noexcept {
  put_varint((static_cast<std::uint64_t>(number) << 3) | static_cast<std::uint8_t>(w));
  return *this;
}

writer& writer::varint(std::uint64_t v) noexcept {
  put_varint(v);
  return *this;
}

writer& writer::fixed32(std::uint32_t v) noexcept {
  std::uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  put(b, 4);
  return *this;
}

writer& writer::fixed64(std::uint64_t v) noexcept {
  std::uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  put(b, 8);
  return *this;
}

writer& writer::bytes(span<const std::byte> b) noexcept {
  put(b.data(), b.size());
  return *this;
}

writer& writer::add(const field_desc& f, std::int64_t v) noexcept {
  constexpr std::int64_t i32min = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t i32max = std::numeric_limits<std::int32_t>::max();
  constexpr std::int64_t u32max = std::numeric_limits<std::uint32_t>::max();
  switch (f.type) {
    case field_type::double_:
    case field_type::float_: return add(f, static_cast<double>(v));
    case field_type::int64: return tag(f.number, wire::varint).varint(static_cast<std::uint64_t>(v));
    case field_type::int32:
    case field_type::enum_:
      if (v < i32min || v > i32max) break;
      return tag(f.number, wire::varint).varint(static_cast<std::uint64_t>(v));  // sign-extended, as protobuf
    case field_type::uint32:
      if (v < 0 || v > u32max) break;
      return tag(f.number, wire::varint).varint(static_cast<std::uint64_t>(v));
    case field_type::uint64:
      if (v < 0) break;
      return tag(f.number, wire::varint).varint(static_cast<std::uint64_t>(v));
    case field_type::sint32:
      if (v < i32min || v > i32max) break;
      return tag(f.number, wire::varint).varint(zigzag(v));
    case field_type::sint64: return tag(f.number, wire::varint).varint(zigzag(v));
    case field_type::fixed32:
      if (v < 0 || v > u32max) break;
      return tag(f.number, wire::i32).fixed32(static_cast<std::uint32_t>(v));
    case field_type::sfixed32:
      if (v < i32min || v > i32max) break;
      return tag(f.number, wire::i32).fixed32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
    case field_type::fixed64:
      if (v < 0) break;
      return tag(f.number, wire::i64).fixed64(static_cast<std::uint64_t>(v));
    case field_type::sfixed64: return tag(f.number, wire::i64).fixed64(static_cast<std::uint64_t>(v));
    default: break;
  }
  fail(errc::wrong_type);
  return *this;
}

writer& writer::add(const field_desc& f, std::uint64_t v) noexcept {
  if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return add(f, static_cast<std::int64_t>(v));
  if (f.type == field_type::uint64) return tag(f.number, wire::varint).varint(v);
  if (f.type == field_type::fixed64) return tag(f.number, wire::i64).fixed64(v);
  if (f.type == field_type::double_ || f.type == field_type::float_) return add(f, static_cast<double>(v));
  fail(errc::wrong_type);
  return *this;
}

writer& writer::add(const field_desc& f, double v) noexcept {
  if (f.type == field_type::double_) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return tag(f.number, wire::i64).fixed64(bits);
  }
  if (f.type == field_type::float_) {
    const float x = static_cast<float>(v);
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return tag(f.number, wire::i32).fixed32(bits);
  }
  // An integer field takes an integral double (JsonFormat: BigDecimal ... intValueExact()).
  if (is_integer_type(f.type) && std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.2e18)
    return add(f, static_cast<std::int64_t>(v));
  fail(errc::wrong_type);
  return *this;
}

writer& writer::add(const field_desc& f, bool v) noexcept {
  if (f.type != field_type::bool_) {
    fail(errc::wrong_type);
    return *this;
  }
  return tag(f.number, wire::varint).varint(v ? 1 : 0);
}

writer& writer::add(const field_desc& f, std::string_view v) noexcept {
  if (f.type != field_type::string && f.type != field_type::bytes) {
    fail(errc::wrong_type);
    return *this;
  }
  tag(f.number, wire::len).varint(v.size());
  put(v.data(), v.size());
  return *this;
}

writer& writer::begin_len(std::uint32_t number) noexcept {
  if (depth_ >= TBMQTT_PROTOBUF_MAX_DEPTH) fail(errc::not_enough_space);
  tag(number, wire::len);
  const std::uint8_t placeholder = 0;
  if (!put(&placeholder, 1)) return *this;  // one length byte; end() widens it when needed
  open_[depth_++] = used_;
  return *this;
}

writer& writer::begin(const field_desc& f) noexcept {
  if (f.type != field_type::message) {
    fail(errc::wrong_type);
    return *this;
  }
  return begin_len(f.number);
}

writer& writer::advance(std::size_t n) noexcept {
  TBMQTT_EXPECTS(n <= tail().size());
  if (error_ == errc{}) used_ += n;
  return *this;
}

writer& writer::end() noexcept {
  if (error_ != errc{}) return *this;
  if (depth_ == 0) {
    fail(errc::invalid_argument);
    return *this;
  }
  const std::size_t start = open_[--depth_];
  const std::size_t len = used_ - start;
  const std::size_t k = varint_size(len);
  if (k > 1) {
    if (k - 1 > out_.size() - used_) {
      fail(errc::not_enough_space);
      return *this;
    }
    std::memmove(out_.data() + start + k - 1, out_.data() + start, len);
    used_ += k - 1;
  }
  std::size_t pos = start - 1;
  std::uint64_t v = len;
  while (v >= 0x80) {
    out_.data()[pos++] = static_cast<std::byte>(v | 0x80);
    v >>= 7;
  }
  out_.data()[pos] = static_cast<std::byte>(v);
  return *this;
}

result<span<const std::byte>> writer::finish() const noexcept {
  if (error_ != errc{}) return error_;
  if (depth_ != 0) return errc::invalid_argument;
  return span<const std::byte>(out_.data(), used_);
}

// ---------------------------------------------------------------------------------------------
// reader

namespace {

/// Skips one field's value after its tag; for a group, up to and including its end tag.
bool skip_value(span<const std::byte> in, std::size_t& pos, std::uint32_t number, wire w, int depth,
                field_view* out) noexcept {
  switch (w) {
    case wire::varint: {
      std::uint64_t v;
      if (!read_varint(in, pos, v)) return false;
      if (out) out->scalar = v;
      return true;
    }
    case wire::i64:
    case wire::i32: {
      const std::size_t n = w == wire::i64 ? 8 : 4;
      if (in.size() - pos < n) return false;
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in.data()[pos + i]) << (8 * i);
      pos += n;
      if (out) out->scalar = v;
      return true;
    }
    case wire::len: {
      std::uint64_t n;
      if (!read_varint(in, pos, n) || n > 0x7FFFFFFF || n > in.size() - pos) return false;
      if (out) out->data = span<const std::byte>(in.data() + pos, static_cast<std::size_t>(n));
      pos += static_cast<std::size_t>(n);
      return true;
    }
    case wire::group_start: {
      if (depth >= TBMQTT_PROTOBUF_MAX_DEPTH) return false;
      const std::size_t body = pos;
      for (;;) {
        const std::size_t tag_at = pos;
        std::uint64_t t;
        if (!read_varint(in, pos, t) || t > 0xFFFFFFFFu) return false;
        const auto num = static_cast<std::uint32_t>(t >> 3);
        const auto wt = static_cast<wire>(t & 7);
        if (num == 0) return false;
        if (wt == wire::group_end) {
          if (num != number) return false;
          if (out) out->data = span<const std::byte>(in.data() + body, tag_at - body);
          return true;
        }
        if (!skip_value(in, pos, num, wt, depth + 1, nullptr)) return false;
      }
    }
    default: return false;
  }
}

}  // namespace

result<bool> reader::next(field_view& f) noexcept {
  if (pos_ >= in_.size()) return false;
  std::uint64_t t;
  if (!read_varint(in_, pos_, t) || t > 0xFFFFFFFFu) return errc::malformed;
  f = field_view{};
  f.number = static_cast<std::uint32_t>(t >> 3);
  f.type = static_cast<wire>(t & 7);
  if (f.number == 0) return errc::malformed;
  if (!skip_value(in_, pos_, f.number, f.type, 0, &f)) return errc::malformed;
  return true;
}

// ---------------------------------------------------------------------------------------------
// validate

namespace {

/// Checks a packed run of `t` values.
bool packed_ok(field_type t, span<const std::byte> data) noexcept {
  const wire w = wire_of(t);
  if (w == wire::i32) return data.size() % 4 == 0;
  if (w == wire::i64) return data.size() % 8 == 0;
  std::size_t pos = 0;
  std::uint64_t v;
  while (pos < data.size())
    if (!read_varint(data, pos, v)) return false;
  return true;
}

bool validate_at(const message_desc& m, span<const std::byte> in, int depth) noexcept {
  if (depth > TBMQTT_PROTOBUF_MAX_DEPTH) return false;
  reader r(in);
  field_view f;
  for (;;) {
    auto more = r.next(f);
    if (!more) return false;
    if (!*more) return true;
    const field_desc* d = m.find(f.number);
    if (d == nullptr) continue;  // unknown field: kept by protobuf, ignored here
    if (f.type == wire_of(d->type)) {
      if (d->type == field_type::message && !validate_at(*d->message, f.data, depth + 1)) return false;
      if (d->type == field_type::string && !utf8_ok(f.data)) return false;
    } else if (d->repeated && f.type == wire::len && packable(d->type)) {
      if (!packed_ok(d->type, f.data)) return false;
    }
    // another wire type: an unknown field to protobuf
  }
}

}  // namespace

result<void> validate(const message_desc& m, span<const std::byte> in) noexcept {
  if (!validate_at(m, in, 0)) return errc::malformed;
  return {};
}

// ---------------------------------------------------------------------------------------------
// decode_json

namespace {

void put_double(json::writer& w, double v) {
  if (std::isnan(v))
    w.value("NaN");
  else if (std::isinf(v))
    w.value(v > 0 ? "Infinity" : "-Infinity");
  else
    w.value(v);
}

/// One scalar value of field `d` from a wire value (`scalar` as read for varint/i32/i64).
void put_scalar(json::writer& w, const field_desc& d, std::uint64_t scalar, const json_options& o) {
  auto i64 = [&](std::int64_t v) {
    if (o.int64_as_string) {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      w.value(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    } else {
      w.value(static_cast<long long>(v));
    }
  };
  auto u64 = [&](std::uint64_t v) {
    if (o.int64_as_string) {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      w.value(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    } else {
      w.value(static_cast<unsigned long long>(v));
    }
  };
  switch (d.type) {
    case field_type::int32:
    case field_type::enum_: w.value(static_cast<long long>(static_cast<std::int32_t>(scalar))); break;
    case field_type::sfixed32: w.value(static_cast<long long>(static_cast<std::int32_t>(scalar))); break;
    case field_type::sint32:
      w.value(static_cast<long long>(static_cast<std::int32_t>(unzigzag(static_cast<std::uint32_t>(scalar)))));
      break;
    case field_type::uint32:
    case field_type::fixed32: w.value(static_cast<unsigned long long>(static_cast<std::uint32_t>(scalar))); break;
    case field_type::int64:
    case field_type::sfixed64: i64(static_cast<std::int64_t>(scalar)); break;
    case field_type::sint64: i64(unzigzag(scalar)); break;
    case field_type::uint64:
    case field_type::fixed64: u64(scalar); break;
    case field_type::bool_: w.value(scalar != 0); break;
    case field_type::double_: {
      double v;
      std::memcpy(&v, &scalar, sizeof v);
      put_double(w, v);
      break;
    }
    case field_type::float_: {
      const auto bits = static_cast<std::uint32_t>(scalar);
      float v;
      std::memcpy(&v, &bits, sizeof v);
      put_double(w, static_cast<double>(v));
      break;
    }
    default: break;
  }
}

void put_len(json::writer& w, const field_desc& d, span<const std::byte> data, const json_options& o, int depth,
             errc& err);

void put_message(json::writer& w, const message_desc& m, span<const std::byte> in, const json_options& o, int depth,
                 errc& err) {
  w.begin_object();
  for (std::size_t i = 0; i < m.field_count; ++i) {
    const field_desc& d = m.fields[i];
    const wire expected = wire_of(d.type);
    bool seen = false;
    field_view last;
    reader r(in);
    field_view f;
    if (d.repeated) {
      // Every occurrence, packed or not, in order.
      for (auto more = r.next(f); more && *more; more = r.next(f)) {
        if (f.number != d.number) continue;
        const bool packed = f.type == wire::len && packable(d.type);
        if (f.type != expected && !packed) continue;
        auto open_array = [&] {
          if (!seen) w.key(d.json_name).begin_array();
          seen = true;
        };
        if (packed) {
          std::size_t pos = 0;
          while (pos < f.data.size()) {
            field_view one;
            if (!skip_value(f.data, pos, d.number, expected, depth, &one)) break;
            open_array();
            put_scalar(w, d, one.scalar, o);
          }
          continue;
        }
        open_array();
        if (expected == wire::len) {
          put_len(w, d, f.data, o, depth, err);
        } else {
          put_scalar(w, d, f.scalar, o);
        }
      }
      if (seen) {
        w.end_array();
      } else if (o.include_defaults) {
        w.key(d.json_name).begin_array().end_array();
      }
      continue;
    }
    for (auto more = r.next(f); more && *more; more = r.next(f)) {
      if (f.number == d.number && f.type == expected) {
        last = f;
        seen = true;
      }
    }
    // proto3 implicit presence: a default value on the wire is "not set" (JsonFormat prints it
    // only with includingDefaultValueFields()).
    if (seen && !d.presence && !o.include_defaults && d.type != field_type::message &&
        (expected == wire::len ? last.data.size() == 0
         : narrow(d.type)      ? static_cast<std::uint32_t>(last.scalar) == 0
                               : last.scalar == 0))
      seen = false;
    if (seen) {
      w.key(d.json_name);
      if (expected == wire::len)
        put_len(w, d, last.data, o, depth, err);
      else
        put_scalar(w, d, last.scalar, o);
    } else if (o.include_defaults && !d.presence && d.type != field_type::message) {
      w.key(d.json_name);
      if (d.type == field_type::string || d.type == field_type::bytes)
        w.value("");
      else
        put_scalar(w, d, 0, o);
    }
  }
  w.end_object();
}

void put_len(json::writer& w, const field_desc& d, span<const std::byte> data, const json_options& o, int depth,
             errc& err) {
  if (d.type == field_type::message) {
    put_message(w, *d.message, data, o, depth + 1, err);
  } else if (d.type == field_type::string) {
    w.value(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  } else {  // bytes: Base64, as the proto3 JSON mapping; streamed in pieces of 64 characters
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    w.raw_trusted("\"");
    char buf[4 * 16];
    std::size_t n = 0;
    for (std::size_t i = 0; i < data.size(); i += 3) {
      std::uint32_t v = static_cast<std::uint32_t>(data.data()[i]) << 16;
      if (i + 1 < data.size()) v |= static_cast<std::uint32_t>(data.data()[i + 1]) << 8;
      if (i + 2 < data.size()) v |= static_cast<std::uint32_t>(data.data()[i + 2]);
      buf[n++] = alphabet[(v >> 18) & 63];
      buf[n++] = alphabet[(v >> 12) & 63];
      buf[n++] = i + 1 < data.size() ? alphabet[(v >> 6) & 63] : '=';
      buf[n++] = i + 2 < data.size() ? alphabet[v & 63] : '=';
      if (n == sizeof buf) {
        w.raw_trusted_more(std::string_view(buf, n));
        n = 0;
      }
    }
    w.raw_trusted_more(std::string_view(buf, n)).raw_trusted_more("\"");
  }
}

}  // namespace

result<std::string_view> decode_json(const message_desc& m, span<const std::byte> in, span<char> out,
                                     json_options options) noexcept {
  TBMQTT_TRY(validate(m, in));
  json::writer w(out);
  errc err{};  // a bytes field too long for put_len's stack buffer
  put_message(w, m, in, options, 0, err);
  if (err != errc{}) return err;
  auto text = w.finish();
  if (!text) return text.error() == errc::not_enough_space ? errc::not_enough_space : errc::malformed;
  return *text;
}

// ---------------------------------------------------------------------------------------------
// encode_json

namespace {

bool is_default(const json::value& v) {
  if (v.is_bool()) return !*v.as_bool();
  if (v.is_number()) {
    auto d = v.as_double();
    return d && *d == 0.0 && v.raw().find('-') == std::string_view::npos;
  }
  if (v.is_string()) return v.raw().size() == 2;
  return false;
}

/// A number, or a number in a string ("12", "1.5", "NaN", "Infinity", "-Infinity").
errc add_number(writer& w, const field_desc& d, const json::value& v) {
  json::value num = v;
  if (v.is_string()) {
    auto s = v.as_string();
    if (!s) return errc::wrong_type;
    if (d.type == field_type::double_ || d.type == field_type::float_) {
      const double inf = std::numeric_limits<double>::infinity();
      if (*s == "NaN") return w.add(d, std::numeric_limits<double>::quiet_NaN()).error();
      if (*s == "Infinity") return w.add(d, inf).error();
      if (*s == "-Infinity") return w.add(d, -inf).error();
    }
    auto parsed = json::value::parse(*s);
    if (!parsed || !parsed->is_number()) return errc::wrong_type;
    num = *parsed;
  }
  if (!num.is_number()) return errc::wrong_type;
  if (d.type == field_type::double_ || d.type == field_type::float_) {  // keeps -0
    auto x = num.as_double();
    if (!x) return errc::wrong_type;
    return w.add(d, *x).error();
  }
  if (auto i = num.as_int()) return w.add(d, *i).error();
  if (num.raw().find_first_of(".eE-") == std::string_view::npos) {  // a large unsigned integer
    std::uint64_t u = 0;
    auto r = std::from_chars(num.raw().data(), num.raw().data() + num.raw().size(), u);
    if (r.ec == std::errc{} && r.ptr == num.raw().data() + num.raw().size()) return w.add(d, u).error();
  }
  auto x = num.as_double();
  if (!x) return errc::wrong_type;
  return w.add(d, *x).error();
}

/// The value of one Base64 character (standard or URL-safe alphabet, as JsonFormat accepts), or -1.
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/// A bytes field from a JSON string in Base64 (padding optional); anything else is wrong_type.
errc add_base64(writer& w, const field_desc& d, const json::value& v) {
  if (!v.is_string()) return errc::wrong_type;
  std::string_view text = v.raw().substr(1, v.raw().size() - 2);  // Base64 needs no JSON escapes
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return errc::wrong_type;
  w.begin_len(d.number);
  if (w.error() != errc{}) return w.error();
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int x = base64_value(c);
    if (x < 0) return errc::wrong_type;
    bits = (bits << 6) | static_cast<std::uint32_t>(x);
    if (++count == 4) {
      const std::byte three[3] = {std::byte(bits >> 16), std::byte(bits >> 8), std::byte(bits)};
      w.bytes(three);
      bits = 0;
      count = 0;
    }
  }
  if (count == 2) {
    const std::byte one[1] = {std::byte(bits >> 4)};
    w.bytes(one);
  } else if (count == 3) {
    const std::byte two[2] = {std::byte(bits >> 10), std::byte(bits >> 2)};
    w.bytes(two);
  }
  return w.end().error();
}

errc encode_object(writer& w, const message_desc& m, const json::value& obj, int depth);

errc encode_value(writer& w, const field_desc& d, const json::value& v, int depth) {
  switch (d.type) {
    case field_type::message:
      if (!v.is_object()) return errc::wrong_type;
      w.begin(d);
      if (auto e = encode_object(w, *d.message, v, depth + 1); e != errc{}) return e;
      return w.end().error();
    case field_type::bool_:
      if (v.is_bool()) return w.add(d, *v.as_bool()).error();
      if (v.is_string() && (v.raw() == "\"true\"" || v.raw() == "\"false\""))
        return w.add(d, v.raw()[1] == 't').error();
      return errc::wrong_type;
    case field_type::string: {
      if (!v.is_string()) return errc::wrong_type;
      w.begin_len(d.number);
      if (w.error() != errc{}) return w.error();
      auto tail = w.tail();
      auto s = v.as_string(span<char>(reinterpret_cast<char*>(tail.data()), tail.size()));
      if (!s) return s.error() == errc::not_enough_space ? errc::not_enough_space : errc::wrong_type;
      return w.advance(s->size()).end().error();
    }
    case field_type::bytes: return add_base64(w, d, v);
    default: return add_number(w, d, v);
  }
}

errc encode_object(writer& w, const message_desc& m, const json::value& obj, int depth) {
  if (depth > TBMQTT_PROTOBUF_MAX_DEPTH) return errc::wrong_type;
  for (auto member : obj.members()) {
    const field_desc* d = m.find(member.key);
    if (d == nullptr || member.val.is_null()) continue;  // ignoringUnknownFields(); null: not set
    if (d->repeated) {
      if (!member.val.is_array()) return errc::wrong_type;
      if (member.val.size() == 0) continue;
      if (packable(d->type)) {
        // proto3 packs repeated scalars: one length-delimited run of bare values.
        w.begin_len(d->number);
        const std::size_t tag_size =
            varint_size((static_cast<std::uint64_t>(d->number) << 3) | static_cast<std::uint8_t>(wire_of(d->type)));
        for (auto e : member.val.elements()) {
          std::byte one[16];  // a tag (at most 5 bytes) and a value (at most 10)
          writer tmp(one);
          if (auto err = encode_value(tmp, *d, e, depth); err != errc{}) return err;
          w.bytes(span<const std::byte>(one + tag_size, tmp.size() - tag_size));
        }
        w.end();
        if (w.error() != errc{}) return w.error();
        continue;
      }
      for (auto e : member.val.elements())
        if (auto err = encode_value(w, *d, e, depth); err != errc{}) return err;
      continue;
    }
    if (!d->presence && d->type != field_type::message && is_default(member.val)) continue;
    if (auto err = encode_value(w, *d, member.val, depth); err != errc{}) return err;
  }
  return w.error();
}

}  // namespace

result<span<const std::byte>> encode_json(const message_desc& m, std::string_view json_object,
                                          span<std::byte> out) noexcept {
  auto doc = json::value::parse(json_object);
  if (!doc || !doc->is_object()) return errc::invalid_argument;
  writer w(out);
  if (auto e = encode_object(w, m, *doc, 0); e != errc{}) return e;
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// ThingsBoard's transport messages

namespace transport {
namespace {
using ft = field_type;
constexpr field_desc attributes_request_fields[] = {
    {"clientKeys", "clientKeys", 1, ft::string},
    {"sharedKeys", "sharedKeys", 2, ft::string},
};
constexpr field_desc rpc_request_fields[] = {
    {"method", "method", 1, ft::string},
    {"params", "params", 2, ft::string},
};
constexpr field_desc claim_device_fields[] = {
    {"secretKey", "secretKey", 1, ft::string},
    {"durationMs", "durationMs", 2, ft::int64},
};
constexpr field_desc key_value_fields[] = {
    {"key", "key", 1, ft::string},      {"type", "type", 2, ft::enum_},          {"bool_v", "boolV", 3, ft::bool_},
    {"long_v", "longV", 4, ft::int64},  {"double_v", "doubleV", 5, ft::double_}, {"string_v", "stringV", 6, ft::string},
    {"json_v", "jsonV", 7, ft::string},
};
constexpr field_desc ts_kv_fields[] = {
    {"ts", "ts", 1, ft::int64},
    {"kv", "kv", 2, ft::message, false, &key_value},
    {"version", "version", 3, ft::int64, false, nullptr, true},
};
constexpr field_desc attribute_update_fields[] = {
    {"sharedUpdated", "sharedUpdated", 1, ft::message, true, &ts_kv},
    {"sharedDeleted", "sharedDeleted", 2, ft::string, true},
};
constexpr field_desc get_attribute_response_fields[] = {
    {"requestId", "requestId", 1, ft::int32},
    {"clientAttributeList", "clientAttributeList", 2, ft::message, true, &ts_kv},
    {"sharedAttributeList", "sharedAttributeList", 3, ft::message, true, &ts_kv},
    {"isMultipleAttributesRequest", "isMultipleAttributesRequest", 4, ft::bool_},
    {"error", "error", 5, ft::string},
    {"sharedStateMsg", "sharedStateMsg", 6, ft::bool_},
};
constexpr field_desc to_server_rpc_response_fields[] = {
    {"requestId", "requestId", 1, ft::int32},
    {"payload", "payload", 2, ft::string},
    {"error", "error", 3, ft::string},
};
constexpr field_desc default_rpc_request_fields[] = {
    {"method", "method", 1, ft::string, false, nullptr, true},
    {"requestId", "requestId", 2, ft::int32, false, nullptr, true},
    {"params", "params", 3, ft::string, false, nullptr, true},
};
constexpr field_desc default_rpc_response_fields[] = {
    {"payload", "payload", 1, ft::string, false, nullptr, true},
};
}  // namespace

const message_desc attributes_request{"transportapi.AttributesRequest", attributes_request_fields, 2};
const message_desc rpc_request{"transportapi.RpcRequest", rpc_request_fields, 2};
const message_desc claim_device{"transportapi.ClaimDevice", claim_device_fields, 2};
const message_desc key_value{"transport.KeyValueProto", key_value_fields, 7};
const message_desc ts_kv{"transport.TsKvProto", ts_kv_fields, 3};
const message_desc attribute_update_notification{"transport.AttributeUpdateNotificationMsg", attribute_update_fields,
                                                 2};
const message_desc get_attribute_response{"transport.GetAttributeResponseMsg", get_attribute_response_fields, 6};
const message_desc to_server_rpc_response{"transport.ToServerRpcResponseMsg", to_server_rpc_response_fields, 3};
const message_desc default_rpc_request{"rpc.RpcRequestMsg", default_rpc_request_fields, 3};
const message_desc default_rpc_response{"rpc.RpcResponseMsg", default_rpc_response_fields, 1};

}  // namespace transport

}  // namespace tbmqtt::protobuf
