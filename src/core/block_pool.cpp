// BlockPool (see block_pool.h). Under AddressSanitizer a free block is
// "poisoned", so a use after release is still reported as it would be with
// malloc.
#include "openpipe/core/block_pool.h"

#include <algorithm>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define OPENPIPE_POISON(address, size) ASAN_POISON_MEMORY_REGION(address, size)
#define OPENPIPE_UNPOISON(address, size) ASAN_UNPOISON_MEMORY_REGION(address, size)
#else
#define OPENPIPE_POISON(address, size) ((void)(address), (void)(size))
#define OPENPIPE_UNPOISON(address, size) ((void)(address), (void)(size))
#endif

namespace ws {
namespace {

// new[] aligns to at least 16 bytes; keeping every block a multiple of 16
// keeps every block aligned for any object with ordinary alignment.
constexpr size_t kAlignment = 16;

size_t round_up(size_t size) {
  size = std::max(size, sizeof(void*));
  return (size + kAlignment - 1) / kAlignment * kAlignment;
}

}  // namespace

BlockPool::BlockPool(size_t block_size, size_t blocks_per_chunk)
    : block_size_(round_up(block_size)), blocks_per_chunk_(std::max<size_t>(blocks_per_chunk, 1)) {}

BlockPool::~BlockPool() {
  // Unpoison before the chunks go back to the allocator.
  for (const auto& chunk : chunks_) OPENPIPE_UNPOISON(chunk.get(), block_size_ * blocks_per_chunk_);
}

//> pool.allocate
void* BlockPool::allocate() {
  if (!free_) add_chunk();
  FreeBlock* block = free_;
  OPENPIPE_UNPOISON(block, block_size_);
  free_ = block->next;
  ++in_use_;
  return block;
}

void BlockPool::release(void* block) {
  auto* freed = static_cast<FreeBlock*>(block);
  freed->next = free_;  // the block's own bytes hold the link
  free_ = freed;
  --in_use_;
  OPENPIPE_POISON(block, block_size_);
}

void BlockPool::add_chunk() {
  chunks_.push_back(std::make_unique_for_overwrite<std::byte[]>(block_size_ * blocks_per_chunk_));
  std::byte* chunk = chunks_.back().get();
  // Thread the new blocks onto the free list, first block first.
  for (size_t i = blocks_per_chunk_; i-- > 0;) {
    auto* block = reinterpret_cast<FreeBlock*>(chunk + i * block_size_);
    block->next = free_;
    free_ = block;
    OPENPIPE_POISON(block, block_size_);
  }
}
//< pool.allocate

}  // namespace ws
