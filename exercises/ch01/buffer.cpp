// EXERCISE SKELETON for chapter 01 (tutorial/01-core.md): src/core/buffer.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=01
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/core/buffer.cpp 01-core.md
// Buffer: compaction before growth, and a hard maximum (see buffer.h).
#include "openpipe/core/buffer.h"
#include "todo.h"  // todo(): what every stub below calls

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
  (void)n;
  todo("Buffer::consume (tutorial/01-core.md)");
}

void Buffer::release_if_empty() {
  todo("Buffer::release_if_empty (tutorial/01-core.md)");
}

std::span<uint8_t> Buffer::prepare(size_t n) {
  (void)n;
  todo("Buffer::prepare (tutorial/01-core.md, region core.buffer-prepare)");
}

bool Buffer::append(std::span<const uint8_t> bytes) {
  (void)bytes;
  todo("Buffer::append (tutorial/01-core.md)");
}

bool Buffer::append(std::string_view text) {
  (void)text;
  todo("Buffer::append (tutorial/01-core.md)");
}

}  // namespace ws
