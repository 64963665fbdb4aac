// sizes: prints the size of the types the chapters talk about, as figure lines
// (`size.ClientSocket = 240`) that `make test` writes to build/figures/sizes.txt and
// the snippet tool compares with every `<!-- fig: size.NAME -->` in tutorial/*.md.
// So "sizeof(ClientSocket) is 240 bytes" in a chapter is what this compiler says
// today, not what it said when the sentence was written.
//
// ClientSocket is private to src/io/server.cpp (only the server needs it), so this
// file compiles that file in, instead of making the class public for a figure:
// the linker then takes the server's code from here, not from libopenpipe.a.
#include <cstdio>
#include <functional>
#include <string>

#include "../../src/io/server.cpp"  // ws::ClientSocket
#include "openpipe/core/buffer.h"
#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/frame.h"
#include "openpipe/protocol/utf8.h"

namespace {

void print(const char* name, size_t size) {
  std::printf("size.%s = %zu\n", name, size);
}

}  // namespace

int main() {
  print("ClientSocket", sizeof(ws::ClientSocket));
  print("Connection", sizeof(ws::Connection));
  print("FrameDecoder", sizeof(ws::FrameDecoder));
  print("FrameHeader", sizeof(ws::FrameHeader));
  print("Buffer", sizeof(ws::Buffer));
  print("Utf8Validator", sizeof(ws::Utf8Validator));
  print("PerMessageDeflate", sizeof(ws::PerMessageDeflate));
  print("HistoryEntry", sizeof(ws::HistoryEntry));
  print("std-function", sizeof(std::function<void()>));
  print("std-string", sizeof(std::string));
  print("pointer", sizeof(void*));
  return 0;
}
