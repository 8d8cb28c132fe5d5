#include "tbmqtt/segment_store.hpp"

#include <cstring>

namespace tbmqtt {
namespace {

constexpr std::uint32_t max_pages = 4096;

void put_u32(std::byte* out, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint32_t get_u32(const std::byte* in) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in[i]) << (8 * i);
  return v;
}

}  // namespace

kv_segment_store::kv_segment_store(storage& store, span<std::byte> write_page, span<std::byte> read_page,
                                   std::string_view prefix) noexcept
    : store_(store), write_page_(write_page), read_page_(read_page), prefix_(prefix) {
  TBMQTT_EXPECTS(prefix_.size() <= 3);
  TBMQTT_EXPECTS(write_page_.size() >= 64 && read_page_.size() == write_page_.size());
}

void kv_segment_store::key_for(std::uint32_t segment, std::uint32_t page, char (&out)[16]) const noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t n = prefix_.size();
  std::memcpy(out, prefix_.data(), n);
  for (int i = 7; i >= 0; --i) out[n++] = hex[(segment >> (4 * i)) & 0xF];
  for (int i = 2; i >= 0; --i) out[n++] = hex[(page >> (4 * i)) & 0xF];
  out[n] = '\0';
}

result<void> kv_segment_store::load_range() noexcept {
  if (range_loaded_) return {};
  char key[16];
  std::memcpy(key, prefix_.data(), prefix_.size());
  key[prefix_.size()] = 'r';
  std::byte value[9];
  auto got = store_.load({key, prefix_.size() + 1}, value);
  if (!got && got.error() != errc::not_found) return errc::storage_error;
  any_ = got && *got == sizeof value && value[8] == std::byte{1};
  if (any_) {
    first_ = get_u32(value);
    last_ = get_u32(value + 4);
  }
  range_loaded_ = true;
  return {};
}

result<void> kv_segment_store::store_range() noexcept {
  char key[16];
  std::memcpy(key, prefix_.data(), prefix_.size());
  key[prefix_.size()] = 'r';
  std::byte value[9];
  put_u32(value, first_);
  put_u32(value + 4, last_);
  value[8] = any_ ? std::byte{1} : std::byte{0};
  return store_.store({key, prefix_.size() + 1}, value);
}

result<std::uint32_t> kv_segment_store::find(std::uint32_t from) noexcept {
  TBMQTT_TRY(load_range());
  if (!any_ || from > last_) return errc::not_found;
  return from < first_ ? first_ : from;
}

result<void> kv_segment_store::store_page() noexcept {
  char key[16];
  key_for(w_segment_, w_page_, key);
  TBMQTT_TRY(store_.store(key, write_page_.first(w_used_)));
  w_dirty_ = false;
  if (r_valid_ && r_segment_ == w_segment_ && r_page_ == w_page_) r_valid_ = false;
  return {};
}

result<void> kv_segment_store::create(std::uint32_t segment) noexcept {
  TBMQTT_TRY(load_range());
  if (w_valid_ && w_dirty_ && w_used_ > 0) TBMQTT_TRY(store_page());
  if (!any_) first_ = segment;
  last_ = segment;
  any_ = true;
  TBMQTT_TRY(store_range());
  w_segment_ = segment;
  w_page_ = 0;
  w_used_ = 0;
  w_valid_ = true;
  w_dirty_ = false;
  r_valid_ = false;
  return {};
}

result<void> kv_segment_store::write(std::uint32_t segment, std::uint32_t offset, span<const std::byte> data) noexcept {
  const std::size_t page_size = write_page_.size();
  if (!w_valid_ || segment != w_segment_) return errc::invalid_argument;  // only the newest segment grows
  const std::uint64_t page_start = static_cast<std::uint64_t>(w_page_) * page_size;
  if (offset < page_start || offset > page_start + w_used_) return errc::invalid_argument;
  w_used_ = static_cast<std::size_t>(offset - page_start);  // over what a failed write left
  std::size_t done = 0;
  while (done < data.size()) {
    const std::size_t chunk = data.size() - done < page_size - w_used_ ? data.size() - done : page_size - w_used_;
    std::memcpy(write_page_.data() + w_used_, data.data() + done, chunk);
    w_used_ += chunk;
    w_dirty_ = true;
    done += chunk;
    if (w_used_ == page_size) {
      if (w_page_ + 1 >= max_pages) return errc::not_enough_space;
      TBMQTT_TRY(store_page());
      ++w_page_;
      w_used_ = 0;
    }
  }
  if (r_valid_ && r_segment_ == w_segment_ && r_page_ == w_page_) r_valid_ = false;
  return {};
}

result<void> kv_segment_store::sync(std::uint32_t segment) noexcept {
  if (w_valid_ && segment == w_segment_ && w_dirty_ && w_used_ > 0) return store_page();
  return {};
}

result<std::size_t> kv_segment_store::read(std::uint32_t segment, std::uint32_t offset, span<std::byte> out) noexcept {
  TBMQTT_TRY(load_range());
  if (!any_ || segment < first_ || segment > last_) return errc::not_found;
  const std::size_t page_size = read_page_.size();
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = static_cast<std::uint64_t>(offset) + done;
    const std::uint32_t page = static_cast<std::uint32_t>(at / page_size);
    const std::size_t in = static_cast<std::size_t>(at % page_size);
    const std::byte* source = nullptr;
    std::size_t used = 0;
    if (w_valid_ && segment == w_segment_ && page == w_page_) {
      source = write_page_.data();
      used = w_used_;
    } else {
      if (page >= max_pages) break;
      if (!(r_valid_ && r_segment_ == segment && r_page_ == page)) {
        char key[16];
        key_for(segment, page, key);
        auto got = store_.load(key, read_page_);
        if (!got && got.error() != errc::not_found) return errc::storage_error;
        r_segment_ = segment;
        r_page_ = page;
        r_used_ = got ? *got : 0;
        r_valid_ = true;
      }
      source = read_page_.data();
      used = r_used_;
    }
    if (in >= used) break;
    const std::size_t chunk = out.size() - done < used - in ? out.size() - done : used - in;
    std::memcpy(out.data() + done, source + in, chunk);
    done += chunk;
    if (used < page_size) break;  // a partly filled page ends the segment
  }
  return done;
}

result<void> kv_segment_store::remove(std::uint32_t segment) noexcept {
  TBMQTT_TRY(load_range());
  if (!any_ || segment < first_ || segment > last_) return {};
  for (std::uint32_t page = 0; page < max_pages; ++page) {
    char key[16];
    key_for(segment, page, key);
    auto got = store_.load(key, read_page_);
    if (!got && got.error() == errc::not_found) break;
    TBMQTT_TRY(store_.erase(key));
  }
  r_valid_ = false;
  if (segment == first_) {
    if (first_ == last_) {
      any_ = false;
    } else {
      ++first_;
    }
    TBMQTT_TRY(store_range());
  }
  if (w_valid_ && segment == w_segment_) w_valid_ = false;
  return {};
}

}  // namespace tbmqtt
