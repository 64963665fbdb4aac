// BlockPool: equal-sized blocks carved from large chunks, for objects that
// come by the thousand and live long (one per connection). Owns the chunks;
// does not construct or destroy objects (the caller uses placement new).
// Why: see tutorial chapter 16, "What an idle connection costs".
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace ws {

//> pool.class
// malloc serves every size from one heap, so a connection object allocated
// between the short-lived buffers of its handshake ends up surrounded by
// their holes, and each block carries malloc's own header. A pool of one
// size puts the objects side by side in big chunks: no holes between them,
// no header per object. A freed block goes on a free list (its first bytes
// hold the link) and is the next one handed out. Chunks are never given back.
class BlockPool {
 public:
  explicit BlockPool(size_t block_size, size_t blocks_per_chunk = 256);
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  void* allocate();           // a block of block_size() bytes, 16-byte aligned
  void release(void* block);  // gives a block from allocate() back

  size_t block_size() const { return block_size_; }
  size_t blocks_in_use() const { return in_use_; }
  size_t chunk_count() const { return chunks_.size(); }

 private:
  struct FreeBlock {
    FreeBlock* next;  // the next free block, or null
  };
  void add_chunk();

  size_t block_size_;                                 // rounded up to 16
  size_t blocks_per_chunk_;                           // blocks carved from each chunk
  std::vector<std::unique_ptr<std::byte[]>> chunks_;  // all memory ever taken
  FreeBlock* free_ = nullptr;                         // the free list
  size_t in_use_ = 0;                                 // blocks handed out
};
//< pool.class

}  // namespace ws
