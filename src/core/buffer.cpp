// Buffer: compaction before growth, and a hard maximum (see buffer.h).
#include "openpipe/core/buffer.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ws {

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::move(other.data_)),
      capacity_(std::exchange(other.capacity_, 0)),
      read_index_(std::exchange(other.read_index_, 0)),
      write_index_(std::exchange(other.write_index_, 0)),
      max_size_(other.max_size_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    data_ = std::move(other.data_);
    capacity_ = std::exchange(other.capacity_, 0);
    read_index_ = std::exchange(other.read_index_, 0);
    write_index_ = std::exchange(other.write_index_, 0);
    max_size_ = other.max_size_;
  }
  return *this;
}

void Buffer::consume(size_t n) {
  read_index_ += std::min(n, size());
  if (read_index_ == write_index_) read_index_ = write_index_ = 0;  // empty: rewind for free
}

void Buffer::release_if_empty() {
  if (!empty()) return;
  data_.reset();
  capacity_ = read_index_ = write_index_ = 0;
}

//> core.buffer-prepare
std::span<uint8_t> Buffer::prepare(size_t n) {
  if (n > max_size_ - size()) return {};  // would pass the hard maximum
  if (capacity_ - write_index_ >= n) return {data_.get() + write_index_, n};
  if (capacity_ - size() >= n) {
    // Enough room overall: slide the readable bytes to the front.
    std::memmove(data_.get(), data_.get() + read_index_, size());
  } else {
    // Grow geometrically (at least doubling) so appends cost O(1) on average.
    size_t new_capacity = std::max({n + size(), capacity_ * 2, size_t{256}});
    new_capacity = std::min(new_capacity, std::max(max_size_, n + size()));
    auto bigger = std::make_unique_for_overwrite<uint8_t[]>(new_capacity);
    if (size() > 0) std::memcpy(bigger.get(), data_.get() + read_index_, size());
    data_ = std::move(bigger);
    capacity_ = new_capacity;
  }
  write_index_ = size();
  read_index_ = 0;
  return {data_.get() + write_index_, n};
}
//< core.buffer-prepare

bool Buffer::append(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return true;
  std::span<uint8_t> space = prepare(bytes.size());
  if (space.empty()) return false;
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
  return true;
}

bool Buffer::append(std::string_view text) {
  return append(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace ws
