// Buffer: a contiguous byte queue with a read index and a write index.
// Owns its storage; compacts before it grows; never grows past a hard maximum.
// Used for a connection's pending output and for bytes that wait for more bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace ws {

//> core.buffer-picture
// +-------------------+------------------+------------------+
// | consumed (free)   |  readable bytes  |  writable space  |
// +-------------------+------------------+------------------+
// 0            read_index_         write_index_         capacity_
//
// consume(n) moves read_index_ right; commit(n) moves write_index_ right.
// When the readable part empties, both indices go back to 0 (free, no copy).
// prepare(n) first slides the readable bytes to the front (compaction) and
// only reallocates if that still leaves less than n bytes of space.
//< core.buffer-picture

class Buffer {
 public:
  // A buffer never holds more than `max_size` readable bytes.
  explicit Buffer(size_t max_size = kDefaultMaxSize) : max_size_(max_size) {}

  // Moving takes the storage and leaves `other` empty with none (a defaulted move
  // would leave other's indices pointing into storage it no longer has).
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;

  static constexpr size_t kDefaultMaxSize = size_t{64} << 20;  // 64 MiB

  size_t size() const { return write_index_ - read_index_; }
  bool empty() const { return size() == 0; }
  size_t capacity() const { return capacity_; }
  size_t max_size() const { return max_size_; }

  // The readable bytes, oldest first.
  std::span<const uint8_t> readable() const { return {data_.get() + read_index_, size()}; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(data_.get() + read_index_), size()};
  }

  // Drops the first n readable bytes (n <= size()).
  void consume(size_t n);
  // Drops everything; keeps the storage.
  void clear() { read_index_ = write_index_ = 0; }
  // Frees the storage if the buffer is empty (keeps idle connections cheap).
  void release_if_empty();

  // Returns at least n writable bytes after the readable ones, or an empty
  // span if that would take the buffer past max_size(). Call commit() after
  // writing into it.
  std::span<uint8_t> prepare(size_t n);
  void commit(size_t n) { write_index_ += n; }

  // Appends bytes; false (and nothing appended) if max_size() would be passed.
  bool append(std::span<const uint8_t> bytes);
  bool append(std::string_view text);

 private:
  std::unique_ptr<uint8_t[]> data_;  // capacity_ bytes, or null
  size_t capacity_ = 0;              // bytes allocated
  size_t read_index_ = 0;            // first readable byte
  size_t write_index_ = 0;           // one past the last readable byte
  size_t max_size_;                  // hard limit on size()
};

}  // namespace ws
