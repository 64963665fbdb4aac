// RESP, the protocol Redis speaks (RESP2, plus RESP3's push type '>'): an
// incremental parser that turns the bytes a Redis server sends into values,
// and an encoder for the commands we send. Owns: the part of a value that
// arrived so far. Does not own sockets: io/broker.h drives it on the loop.
// Spec: https://redis.io/docs/reference/protocol-spec/ (no RFC 6455 here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/error.h"

namespace ws {

//> resp.limits
// A broker is a peer on the network like any client: every length and count
// it sends meets a named limit before it sizes anything, so a hostile or
// broken server cannot make us allocate without bound.
struct RespLimits {
  size_t max_bulk_length = 64 << 20;    // "$<n>": one bulk string (Redis caps it at 512 MB)
  size_t max_array_length = 1 << 20;    // "*<n>": elements of one array
  size_t max_depth = 8;                 // arrays inside arrays; a pub/sub message needs 1
  size_t max_line_length = 64 * 1024;   // a "+", "-" or ":" line, CR LF not counted
  size_t max_total_elements = 4 << 20;  // every element of one value, at any depth
};
//< resp.limits

//> resp.value
// RESP types: the first byte of every value says which.
enum class RespType : uint8_t {
  kSimpleString,  // "+OK\r\n"
  kError,         // "-ERR unknown command\r\n"
  kInteger,       // ":42\r\n"
  kBulkString,    // "$5\r\nhello\r\n": binary-safe, any bytes
  kArray,         // "*2\r\n<value><value>": elements are values
  kPush,          // ">3\r\n...": RESP3's out-of-band array (pub/sub messages)
                  // (RESP3's map "%n" is read as an array of 2n elements)
  kNull,  // "$-1\r\n" or "*-1\r\n" (RESP2's null bulk string and null array), "_\r\n" (RESP3)
};

struct RespValue {
  RespType type = RespType::kNull;
  std::string text;                 // simple string, error, bulk string
  int64_t integer = 0;              // integer
  std::vector<RespValue> elements;  // array, push
};
//< resp.value

//> resp.errors
enum class RespError : uint8_t {
  kNone = 0,
  kUnknownType,      // the first byte is not one of + - : $ * >
  kLineTooLong,      // a line over RespLimits::max_line_length
  kBadLineEnd,       // a line not ended by CR LF, or a CR inside it
  kBadInteger,       // ":" or a length that is not a decimal int64
  kBadLength,        // a negative length other than -1 (null)
  kBulkTooLong,      // "$<n>" over RespLimits::max_bulk_length
  kBulkBadEnd,       // the bytes after a bulk string's payload are not CR LF
  kArrayTooLong,     // "*<n>" over RespLimits::max_array_length
  kTooDeep,          // arrays nested deeper than RespLimits::max_depth
  kTooManyElements,  // over RespLimits::max_total_elements in one value
};
//< resp.errors

// A readable name for logs and tests, e.g. "resp-too-deep".
std::string_view to_string(RespError error);

struct RespResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  // bytes of the input used by this call
  RespError error = RespError::kNone;
};

// Feed bytes as they arrive, split anywhere. feed() returns
//   kNeedMore: every byte was taken (consumed == data.size()), value incomplete;
//   kOk:       one value is complete (value()/take()); `consumed` bytes were
//              used and the rest of `data` starts the next value: call feed()
//              again with it (a reply stream is values one after the other);
//   kError:    `error` says why; the stream cannot be trusted any more.
// After kOk the next feed() starts a new value; after kError feed() takes
// nothing more until reset().
class RespParser {
 public:
  explicit RespParser(const RespLimits& limits = {}) : limits_(limits) {}
  RespResult feed(std::span<const uint8_t> data);
  RespResult feed(std::string_view data) {
    return feed({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  }
  const RespValue& value() const { return value_; }  // valid after kOk
  RespValue take() { return std::move(value_); }     // the value, moved out
  void reset();

 private:
  //> resp.state
  enum class State : uint8_t {
    kType,    // the next byte is a type byte
    kLine,    // inside a line, until its CR LF
    kBulk,    // inside a bulk string's payload: bulk_left_ bytes to go
    kBulkCr,  // after the payload: CR
    kBulkLf,  // then LF
    kFailed,  // an error was found: nothing more is taken
  };
  // An array whose elements are still arriving.
  struct Open {
    RespValue array;  // its type and the elements so far
    size_t left = 0;  // elements still to come
  };
  //< resp.state

  size_t take_line(std::span<const uint8_t> data);  // bytes used
  size_t take_bulk(std::span<const uint8_t> data);  // bytes used
  RespError end_of_line();
  RespError start_aggregate(RespType type, int64_t count);
  void complete(RespValue value);  // a value ended: an element, or the reply

  RespLimits limits_;
  State state_ = State::kType;
  uint8_t type_ = 0;        // the current line's type byte
  std::string line_;        // the current line, CR included, LF not
  RespValue bulk_;          // the bulk string being filled
  size_t bulk_left_ = 0;    // its payload bytes still to come
  std::vector<Open> open_;  // arrays being filled, outermost first
  size_t elements_ = 0;     // elements announced in this value so far
  RespValue value_;         // the last complete value
  bool finished_ = false;   // value_ was completed during this feed()
  RespError error_ = RespError::kNone;
};

// ---- encoding: what we send is always a command, an array of bulk strings ----

// Appends one command: {"PUBLISH", "news", "hi"} becomes
// "*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$2\r\nhi\r\n".
void resp_append_command(std::string& out, std::initializer_list<std::string_view> args);
void resp_append_command(std::string& out, std::span<const std::string_view> args);
// Appends any value as RESP (for tests and fake servers; "$-1" for kNull).
void resp_append(std::string& out, const RespValue& value);

// Shorthands to build values in tests and in the broker.
RespValue resp_bulk(std::string_view text);
RespValue resp_array(std::vector<RespValue> elements);

}  // namespace ws
