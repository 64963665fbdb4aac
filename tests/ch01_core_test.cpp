// Chapter 01 exercises: the core layer. Buffer (read/write indices, compaction
// before growth, a hard maximum), the Error table (every error says what it
// answers: an HTTP status before the upgrade, a close code after it), and the
// layering rule itself: protocol code makes no system calls.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/block_pool.h"
#include "openpipe/core/buffer.h"
#include "openpipe/core/error.h"

namespace ws {
namespace {

// ---- Buffer ---------------------------------------------------------------------------

std::string text_of(const Buffer& buffer) {
  return std::string(buffer.view());
}

// A buffer filled to exactly its capacity, so the next append cannot simply
// write at the end: it has to compact or grow.
Buffer full_buffer(size_t bytes) {
  Buffer buffer;
  buffer.append(std::string(bytes, 'a'));
  buffer.append(std::string(buffer.capacity() - bytes, 'b'));
  return buffer;
}

TEST(Ch01_Buffer, StartsEmptyWithNoStorage) {
  Buffer buffer;
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.capacity(), 0u) << "an idle connection's buffer should cost nothing";
}

TEST(Ch01_Buffer, AppendMakesBytesReadable) {
  Buffer buffer;
  ASSERT_TRUE(buffer.append("hello"));
  EXPECT_EQ(buffer.size(), 5u);
  EXPECT_EQ(text_of(buffer), "hello");
  EXPECT_EQ(buffer.readable().size(), 5u) << "readable() and view() show the same bytes";
}

TEST(Ch01_Buffer, AppendKeepsOrder) {
  Buffer buffer;
  buffer.append("ab");
  const uint8_t more[] = {'c', 'd'};
  buffer.append(std::span<const uint8_t>(more));
  EXPECT_EQ(text_of(buffer), "abcd") << "a buffer is a queue: oldest bytes first";
}

TEST(Ch01_Buffer, ConsumeDropsTheOldestBytes) {
  Buffer buffer;
  buffer.append("hello world");
  buffer.consume(6);
  EXPECT_EQ(text_of(buffer), "world") << "consume(n) moves the read index right by n";
}

TEST(Ch01_Buffer, PrepareThenCommitAppends) {
  Buffer buffer;
  std::span<uint8_t> space = buffer.prepare(8);
  ASSERT_GE(space.size(), 8u) << "prepare(n) returns at least n writable bytes";
  space[0] = 'o';
  space[1] = 'k';
  buffer.commit(2);
  EXPECT_EQ(text_of(buffer), "ok") << "only commit(n) makes written bytes readable";
}

TEST(Ch01_Buffer, PrepareWithoutCommitAppendsNothing) {
  Buffer buffer;
  buffer.append("x");
  buffer.prepare(100);
  EXPECT_EQ(text_of(buffer), "x") << "prepare() reserves space; it does not add bytes";
}

TEST(Ch01_Buffer, ClearKeepsTheStorage) {
  Buffer buffer;
  buffer.append("some bytes");
  const size_t capacity = buffer.capacity();
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), capacity) << "clear() resets the indices, not the allocation";
}

// ---- edge cases: where the indices go ----

TEST(Ch01_Buffer, ConsumingEverythingRewinds) {
  Buffer buffer;
  buffer.append("abcd");
  const uint8_t* start = buffer.readable().data();
  buffer.consume(4);
  buffer.append("xy");
  EXPECT_EQ(buffer.readable().data(), start)
      << "when the readable part empties, both indices go back to 0 (no copy needed)";
  EXPECT_EQ(text_of(buffer), "xy");
}

TEST(Ch01_Buffer, CompactsBeforeGrowing) {
  Buffer buffer = full_buffer(200);
  const size_t capacity = buffer.capacity();
  buffer.consume(capacity - 10);  // 10 bytes left, all at the far end
  ASSERT_TRUE(buffer.append(std::string(capacity / 2, 'c')));
  EXPECT_EQ(buffer.capacity(), capacity)
      << "there was room once the consumed bytes were reclaimed: slide, do not reallocate";
  EXPECT_EQ(text_of(buffer), std::string(10, 'b') + std::string(capacity / 2, 'c'))
      << "compaction must keep the readable bytes, in order";
}

TEST(Ch01_Buffer, GrowsWhenCompactionIsNotEnough) {
  Buffer buffer = full_buffer(200);
  const size_t capacity = buffer.capacity();
  buffer.consume(100);
  ASSERT_TRUE(buffer.append(std::string(capacity, 'c')));
  EXPECT_GT(buffer.capacity(), capacity);
  EXPECT_EQ(text_of(buffer),
            std::string(100, 'a') + std::string(capacity - 200, 'b') + std::string(capacity, 'c'))
      << "growing must copy the readable bytes, not the consumed ones";
}

TEST(Ch01_Buffer, ReleaseIfEmptyFreesTheStorage) {
  Buffer buffer;
  buffer.append("abc");
  buffer.consume(3);
  buffer.release_if_empty();
  EXPECT_EQ(buffer.capacity(), 0u) << "an idle connection should not keep its buffer";
  ASSERT_TRUE(buffer.append("again")) << "a released buffer must still work";
  EXPECT_EQ(text_of(buffer), "again");
}

TEST(Ch01_Buffer, ReleaseIfEmptyKeepsUnreadBytes) {
  Buffer buffer;
  buffer.append("abc");
  buffer.release_if_empty();
  EXPECT_EQ(text_of(buffer), "abc") << "release_if_empty() must never drop bytes";
}

TEST(Ch01_Buffer, MovedFromBufferIsEmptyAndUsable) {
  Buffer from;
  from.append("pending output");
  Buffer to = std::move(from);
  EXPECT_EQ(text_of(to), "pending output") << "a move hands over the bytes";
  ASSERT_TRUE(from.empty()) << "the moved-from buffer must not keep indices into storage it lost";
  EXPECT_EQ(from.capacity(), 0u);
  ASSERT_TRUE(from.append("reuse")) << "a moved-from buffer must still work";
  EXPECT_EQ(text_of(from), "reuse");
}

// ---- adversarial: the hard maximum ----

TEST(Ch01_Buffer, AppendUpToTheMaximumSucceeds) {
  Buffer buffer(16);
  EXPECT_TRUE(buffer.append(std::string(16, 'x')));
  EXPECT_EQ(buffer.size(), 16u) << "max_size() bytes fit exactly";
}

TEST(Ch01_Buffer, AppendPastTheMaximumIsRefusedAndAppendsNothing) {
  Buffer buffer(16);
  ASSERT_TRUE(buffer.append(std::string(10, 'x')));
  EXPECT_FALSE(buffer.append(std::string(7, 'y'))) << "10 + 7 bytes would pass max_size() 16";
  EXPECT_EQ(text_of(buffer), std::string(10, 'x'))
      << "a refused append must append nothing, not a part: half a frame is worse than none";
}

TEST(Ch01_Buffer, ConsumedBytesDoNotCountAgainstTheMaximum) {
  Buffer buffer(16);
  buffer.append(std::string(16, 'x'));
  buffer.consume(8);
  EXPECT_TRUE(buffer.append(std::string(8, 'y'))) << "the limit is on size(), the unread bytes";
  EXPECT_EQ(buffer.size(), 16u);
}

TEST(Ch01_Buffer, HugePrepareIsRefusedWithoutAllocating) {
  Buffer buffer;
  buffer.append("abc");
  EXPECT_TRUE(buffer.prepare(SIZE_MAX).empty())
      << "a size from the network must be checked before it sizes an allocation";
  EXPECT_TRUE(buffer.prepare(Buffer::kDefaultMaxSize).empty())
      << "3 bytes + kDefaultMaxSize passes the default maximum";
  EXPECT_EQ(text_of(buffer), "abc");
}

TEST(Ch01_Buffer, ZeroMaximumRefusesEverything) {
  Buffer buffer(0);
  EXPECT_FALSE(buffer.append("x"));
  EXPECT_TRUE(buffer.append("")) << "appending nothing never passes a limit";
  EXPECT_TRUE(buffer.empty());
}

// ---- Error -------------------------------------------------------------------------

// The enum is contiguous from kNone to kLastError; the test LastErrorIsTheEnd
// fails if a new error is added after it without updating this line.
constexpr Error kLastError = Error::kDeflateBadData;

std::vector<Error> errors_between(Error first, Error last) {
  std::vector<Error> out;
  for (int i = static_cast<int>(first); i <= static_cast<int>(last); ++i) {
    out.push_back(static_cast<Error>(i));
  }
  return out;
}

std::vector<Error> all_errors() {
  return errors_between(Error::kNone, kLastError);
}

// Errors a server answers with an HTTP status, before the upgrade (RFC 6455 §4.2.2).
std::vector<Error> server_handshake_errors() {
  return errors_between(Error::kHttpMalformed, Error::kHandshakeBadVersion);
}

// Errors that fail an open connection with a close code (RFC 6455 §7.4.1).
std::vector<Error> connection_errors() {
  return errors_between(Error::kFrameReservedBits, kLastError);
}

// ---- BlockPool: one size, many objects (used for connections, chapter 16) ----

TEST(Ch01_BlockPool, BlockSizeIsRoundedUpTo16) {
  ws::BlockPool pool(100);
  EXPECT_EQ(pool.block_size(), 112u) << "blocks are multiples of 16 so every block stays aligned";
}

TEST(Ch01_BlockPool, BlocksAreDistinctAlignedAndWritable) {
  ws::BlockPool pool(40, 4);
  std::set<void*> seen;
  for (int i = 0; i < 10; ++i) {
    void* block = pool.allocate();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % 16, 0u)
        << "block " << i << " must be 16-aligned";
    std::memset(block, 0xab, pool.block_size());  // under ASan: proves the block is really ours
    EXPECT_TRUE(seen.insert(block).second) << "block " << i << " was handed out twice";
  }
  EXPECT_EQ(pool.blocks_in_use(), 10u);
  EXPECT_EQ(pool.chunk_count(), 3u) << "4 blocks per chunk: 10 blocks need 3 chunks";
  for (void* block : seen) pool.release(block);
  EXPECT_EQ(pool.blocks_in_use(), 0u);
}

TEST(Ch01_BlockPool, AReleasedBlockIsTheNextOneHandedOut) {
  ws::BlockPool pool(64);
  void* first = pool.allocate();
  void* second = pool.allocate();
  pool.release(first);
  EXPECT_EQ(pool.allocate(), first) << "the free list is last in, first out: warm memory is reused";
  pool.release(second);
}

TEST(Ch01_BlockPool, ReleasingAndAllocatingDoesNotGrowThePool) {
  ws::BlockPool pool(64, 8);
  for (int round = 0; round < 1000; ++round) pool.release(pool.allocate());
  EXPECT_EQ(pool.chunk_count(), 1u) << "a steady number of objects needs no new memory";
}

TEST(Ch01_Errors, NoneIsNotAnError) {
  EXPECT_EQ(to_string(Error::kNone), "none");
  EXPECT_EQ(http_status(Error::kNone), 0);
  EXPECT_EQ(close_code(Error::kNone), 0);
}

TEST(Ch01_Errors, EveryErrorHasADistinctName) {
  std::set<std::string_view> names;
  for (Error error : all_errors()) {
    const std::string_view name = to_string(error);
    EXPECT_FALSE(name.empty()) << "Error " << static_cast<int>(error) << " has no name";
    EXPECT_NE(name, "unknown") << "Error " << static_cast<int>(error)
                               << " has no row in the table in src/core/error.cpp";
    EXPECT_TRUE(names.insert(name).second)
        << "two errors are both called \"" << name << "\": logs could not tell them apart";
  }
}

TEST(Ch01_Errors, HandshakeErrorsAnswerA4xxStatus) {
  for (Error error : server_handshake_errors()) {
    int status = http_status(error);
    // The 5xx are what we lack, not what went wrong here: 501 for RFC 9112
    // §6.1 (a transfer coding we do not implement) and CONNECT, which asks
    // for a proxy this server is not; 505 for an HTTP major version other than 1.
    EXPECT_TRUE((status >= 400 && status <= 499) || status == 501 || status == 505)
        << to_string(error) << ": the client sent a bad request (or asked for what we lack)";
    EXPECT_EQ(close_code(error), 0)
        << to_string(error) << ": before the upgrade there is no WebSocket to close";
  }
}

TEST(Ch01_Errors, ClientHandshakeErrorsAnswerNothing) {
  for (Error error : {Error::kHandshakeBadResponse, Error::kHandshakeBadAccept}) {
    EXPECT_EQ(http_status(error), 0)
        << to_string(error) << ": a client does not answer a server's response with a status";
    EXPECT_EQ(close_code(error), 0) << to_string(error) << ": the upgrade never happened";
  }
}

TEST(Ch01_Errors, ConnectionErrorsFailWithACloseCode) {
  const std::set<uint16_t> allowed = {1002, 1007, 1009};
  for (Error error : connection_errors()) {
    EXPECT_TRUE(allowed.count(close_code(error)) == 1)
        << to_string(error) << " closes with " << close_code(error)
        << "; RFC 6455 §7.4.1: protocol error 1002, invalid data 1007, too big 1009";
    EXPECT_EQ(http_status(error), 0)
        << to_string(error) << ": after the upgrade there is no HTTP response to send";
  }
}

TEST(Ch01_Errors, BadVersionAnswers426) {
  EXPECT_EQ(http_status(Error::kHandshakeBadVersion), 426)
      << "RFC 6455 §4.2.2: send \"an appropriate HTTP error code (such as 426 Upgrade "
         "Required)\"";
}

TEST(Ch01_Errors, RequestLineTooLongAnswers414) {
  EXPECT_EQ(http_status(Error::kHttpRequestLineTooLong), 414)
      << "RFC 7231 §6.5.12: 414 URI Too Long";
}

TEST(Ch01_Errors, TooManyHeadersAnswers431) {
  EXPECT_EQ(http_status(Error::kHttpTooManyHeaders), 431)
      << "RFC 6585 §5: 431 Request Header Fields Too Large";
}

TEST(Ch01_Errors, FrameTooLargeCloses1009) {
  EXPECT_EQ(close_code(Error::kFrameTooLarge), 1009)
      << "RFC 6455 §7.4.1: 1009, \"a message that is too big for it to process\"";
}

TEST(Ch01_Errors, InvalidUtf8Closes1007) {
  EXPECT_EQ(close_code(Error::kMessageInvalidUtf8), 1007)
      << "RFC 6455 §8.1: \"_Fail the WebSocket Connection_\" on invalid UTF-8, §7.4.1: 1007";
}

TEST(Ch01_Errors, LastErrorIsTheEnd) {
  const auto past_the_end = static_cast<Error>(static_cast<int>(kLastError) + 1);
  EXPECT_EQ(to_string(past_the_end), "unknown")
      << "a new Error was added after " << to_string(kLastError)
      << ": update kLastError in this test so every test above covers it";
}

// A failed EXPECT_EQ(result.error, Error::kNone) must say which error it got:
// gtest prints a value with its operator<<, else as raw bytes ("<12>").
TEST(Ch01_Errors, PrintByNameInTestMessages) {
  EXPECT_EQ(::testing::PrintToString(Error::kFrameNotMasked), "frame-not-masked")
      << "error.h declares operator<< for Error: it prints to_string()";
  EXPECT_EQ(::testing::PrintToString(ParseStatus::kNeedMore), "need-more");
}

TEST(Ch01_Errors, ParseResultStartsAsNeedMore) {
  const ParseResult result;
  EXPECT_EQ(result.status, ParseStatus::kNeedMore) << "nothing parsed yet: wait for bytes";
  EXPECT_EQ(result.consumed, 0u);
  EXPECT_EQ(result.error, Error::kNone);
}

// ---- Layers ----------------------------------------------------------------------
// STYLE.md: core and protocol "make no system calls", so every parser can be fed bytes by
// a test or a fuzzer. Reading the #include lines checks that rule instead of hoping.

namespace fs = std::filesystem;

// The header an `#include` line names, with its <> or "", or "" for other lines.
std::string include_target(std::string_view line) {
  size_t at = line.find_first_not_of(" \t");
  if (at == std::string_view::npos || line[at] != '#') return "";
  at = line.find_first_not_of(" \t", at + 1);
  if (at == std::string_view::npos || line.substr(at, 7) != "include") return "";
  at = line.find_first_of("<\"", at + 7);
  if (at == std::string_view::npos) return "";
  const size_t end = line.find_first_of(line[at] == '<' ? ">" : "\"", at + 1);
  return std::string(line.substr(at, end == std::string_view::npos ? end : end - at + 1));
}

struct Include {
  std::string file;    // relative to the repository root
  int line;            // counting from 1
  std::string target;  // e.g. "<sys/socket.h>"
};

// Every #include in the files under the given directories of the repository.
std::vector<Include> includes_under(const std::vector<std::string>& dirs) {
  const fs::path root = OPENPIPE_SOURCE_DIR;
  std::vector<Include> found;
  for (const std::string& dir : dirs) {
    if (!fs::is_directory(root / dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path());
      std::string text;
      for (int n = 1; std::getline(in, text); ++n) {
        const std::string target = include_target(text);
        if (!target.empty()) {
          found.push_back({entry.path().lexically_relative(root).generic_string(), n, target});
        }
      }
    }
  }
  return found;
}

const std::vector<std::string> kCoreDirs = {"src/core", "include/openpipe/core"};
const std::vector<std::string> kNoIoDirs = {"src/core", "src/protocol", "include/openpipe/core",
                                            "include/openpipe/protocol"};

bool names_any(const std::string& target, const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    if (target.find(needle) != std::string::npos) return true;
  }
  return false;
}

// "file:line: #include target" for every include whose target contains a needle.
std::string violations(const std::vector<Include>& includes,
                       const std::vector<std::string>& needles) {
  std::string out;
  for (const Include& inc : includes) {
    if (names_any(inc.target, needles)) {
      out += "  " + inc.file + ":" + std::to_string(inc.line) + ": #include " + inc.target + "\n";
    }
  }
  return out;
}

TEST(Ch01_Layers, FindsIncludeLines) {
  EXPECT_EQ(include_target("#include <sys/socket.h>"), "<sys/socket.h>");
  EXPECT_EQ(include_target("  #  include \"openpipe/io/fd.h\"  // why"), "\"openpipe/io/fd.h\"");
  EXPECT_EQ(include_target("// #include <unistd.h> is forbidden here"), "")
      << "a comment that mentions a header does not include it";
}

TEST(Ch01_Layers, SeesTheCoreSources) {
  const std::vector<Include> includes = includes_under(kCoreDirs);
  EXPECT_FALSE(violations(includes, {"openpipe/core/buffer.h"}).empty())
      << "src/core/buffer.cpp includes its header; if this fails, the checks below read "
         "nothing: is OPENPIPE_SOURCE_DIR (" OPENPIPE_SOURCE_DIR ") the repository root?";
}

TEST(Ch01_Layers, SeesTheRespParser) {
  // Chapter 20's RESP parser is protocol code too: fed bytes by tests and a fuzzer,
  // never by a socket. If it moved out of src/protocol, the checks below would miss it.
  const std::vector<Include> includes = includes_under(kNoIoDirs);
  EXPECT_FALSE(violations(includes, {"openpipe/protocol/resp.h"}).empty())
      << "src/protocol/resp.cpp (chapter 20) should be among the files these checks read";
}

TEST(Ch01_Layers, CoreAndProtocolMakeNoSystemCalls) {
  const std::string bad = violations(includes_under(kNoIoDirs),
                                     {"<sys/", "<unistd.h>", "<netinet/", "<arpa/", "<fcntl.h>",
                                      "<poll.h>", "<signal.h>", "<csignal>", "<netdb.h>"});
  EXPECT_EQ(bad, "") << "core and protocol code take bytes and return bytes; system calls "
                        "belong in src/io (STYLE.md, Layers):\n"
                     << bad;
}

TEST(Ch01_Layers, CoreAndProtocolIncludeNoIoHeader) {
  const std::string bad = violations(includes_under(kNoIoDirs), {"openpipe/io/"});
  EXPECT_EQ(bad, "") << "dependencies point down: io uses protocol, never the reverse:\n" << bad;
}

TEST(Ch01_Layers, CoreIncludesNoProtocolHeader) {
  const std::string bad = violations(includes_under(kCoreDirs), {"openpipe/protocol/"});
  EXPECT_EQ(bad, "") << "core is the bottom layer: it may use only the standard library:\n" << bad;
}

TEST(Ch01_Layers, OnlyTheHandshakeAndTlsUseOpenSsl) {
  std::vector<Include> includes = includes_under(kNoIoDirs);
  std::erase_if(includes, [](const Include& inc) {
    return inc.file == "src/protocol/handshake.cpp" || inc.file == "src/protocol/tls.cpp";
  });
  const std::string bad = violations(includes, {"<openssl/"});
  EXPECT_EQ(bad, "") << "libcrypto is needed for SHA-1 in the accept key (RFC 6455 §4.2.2), "
                        "libssl for TLS (chapter 23), and nowhere else in the protocol layer; "
                        "tls.h declares OpenSSL's types instead of including them:\n"
                     << bad;
}

TEST(Ch01_Layers, TlsIsSansIo) {
  // The TLS layer reads and writes memory BIOs, never a socket: no
  // SSL_set_fd, no socket BIO (chapter 23). The I/O layer drives it.
  std::ifstream in(OPENPIPE_SOURCE_DIR "/src/protocol/tls.cpp");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty()) << "src/protocol/tls.cpp not found";
  for (const char* call : {"SSL_set_fd", "BIO_new_socket", "BIO_s_socket", "SSL_set_rfd",
                           "SSL_set_wfd", "BIO_new_fd"}) {
    EXPECT_EQ(text.find(call), std::string::npos)
        << call << " in src/protocol/tls.cpp: the TLS layer takes bytes, not descriptors";
  }
  EXPECT_NE(text.find("BIO_s_mem"), std::string::npos) << "TLS runs on memory BIOs";
}

}  // namespace
}  // namespace ws
