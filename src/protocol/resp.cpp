// The RESP parser and encoder (see include/openpipe/protocol/resp.h): a state
// machine fed with bytes, like the HTTP parser of chapter 02. A value is
// either one line ("+OK", "-ERR ...", ":42"), a bulk string (a length line,
// then exactly that many bytes, then CR LF), or an array (a count line, then
// that many values, each of which may be an array again).
#include "openpipe/protocol/resp.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ws {

std::string_view to_string(RespError error) {
  switch (error) {
    case RespError::kNone: return "none";
    case RespError::kUnknownType: return "resp-unknown-type";
    case RespError::kLineTooLong: return "resp-line-too-long";
    case RespError::kBadLineEnd: return "resp-bad-line-end";
    case RespError::kBadInteger: return "resp-bad-integer";
    case RespError::kBadLength: return "resp-bad-length";
    case RespError::kBulkTooLong: return "resp-bulk-too-long";
    case RespError::kBulkBadEnd: return "resp-bulk-bad-end";
    case RespError::kArrayTooLong: return "resp-array-too-long";
    case RespError::kTooDeep: return "resp-too-deep";
    case RespError::kTooManyElements: return "resp-too-many-elements";
  }
  return "resp-unknown-error";
}

namespace {

// How much of a bulk string is reserved before its bytes arrive: a length
// line is a promise, not bytes, so it never reserves more than this.
constexpr size_t kBulkReserveCap = 64 * 1024;

bool known_type(uint8_t byte) {
  return byte == '+' || byte == '-' || byte == ':' || byte == '$' || byte == '*' || byte == '>' ||
         byte == '%' || byte == '_';  // RESP3's map and null (HELLO 3, chapter 21)
}

//> resp.parse-integer
// A decimal int64 with an optional '-': the whole line, nothing else
// ("+12", " 12", "1e3", "" and overflow are all errors).
bool parse_int64(std::string_view text, int64_t& out) {
  bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 19) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  const uint64_t limit = uint64_t{std::numeric_limits<int64_t>::max()} + (negative ? 1 : 0);
  if (value > limit) return false;
  out = negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
  return true;
}
//< resp.parse-integer

}  // namespace

void RespParser::reset() {
  state_ = State::kType;
  line_.clear();
  bulk_ = {};
  bulk_left_ = 0;
  open_.clear();
  elements_ = 0;
  value_ = {};
  error_ = RespError::kNone;
}

//> resp.feed
RespResult RespParser::feed(std::span<const uint8_t> data) {
  if (state_ == State::kFailed) return {ParseStatus::kError, 0, error_};
  finished_ = false;
  size_t used = 0;
  while (used < data.size() && !finished_ && error_ == RespError::kNone) {
    std::span<const uint8_t> rest = data.subspan(used);
    switch (state_) {
      case State::kType:  // one byte says what follows
        type_ = rest[0];
        used += 1;
        line_.clear();
        state_ = State::kLine;
        if (!known_type(type_)) error_ = RespError::kUnknownType;
        break;
      case State::kLine:  // up to and including LF
        used += take_line(rest);
        break;
      case State::kBulk:  // exactly bulk_left_ bytes, whatever they are
        used += take_bulk(rest);
        break;
      case State::kBulkCr:
      case State::kBulkLf:  // the CR LF after a bulk payload
        used += 1;
        if (rest[0] != (state_ == State::kBulkCr ? '\r' : '\n')) {
          error_ = RespError::kBulkBadEnd;
        } else if (state_ == State::kBulkCr) {
          state_ = State::kBulkLf;
        } else {
          state_ = State::kType;
          complete(std::move(bulk_));
        }
        break;
      case State::kFailed: break;
    }
  }
  if (error_ != RespError::kNone) {
    state_ = State::kFailed;
    return {ParseStatus::kError, used, error_};
  }
  return {finished_ ? ParseStatus::kOk : ParseStatus::kNeedMore, used, RespError::kNone};
}
//< resp.feed

// Takes bytes of the current line up to its LF (or all of `data` if none).
size_t RespParser::take_line(std::span<const uint8_t> data) {
  const void* lf = std::memchr(data.data(), '\n', data.size());
  size_t n = lf ? static_cast<size_t>(static_cast<const uint8_t*>(lf) - data.data()) : data.size();
  // +1: the CR is kept in line_ until the LF proves the line is over.
  const size_t room = limits_.max_line_length + 1 - line_.size();
  if (n > room) {
    error_ = RespError::kLineTooLong;
    return room + 1;  // the byte that proved it, wherever the input was split
  }
  line_.append(reinterpret_cast<const char*>(data.data()), n);
  if (!lf) return n;
  error_ = end_of_line();
  return n + 1;
}

size_t RespParser::take_bulk(std::span<const uint8_t> data) {
  size_t n = std::min(bulk_left_, data.size());
  bulk_.text.append(reinterpret_cast<const char*>(data.data()), n);
  bulk_left_ -= n;
  if (bulk_left_ == 0) state_ = State::kBulkCr;
  return n;
}

//> resp.end-of-line
// A whole line is in line_ (with its CR): what it means depends on type_.
RespError RespParser::end_of_line() {
  if (line_.empty() || line_.back() != '\r') return RespError::kBadLineEnd;
  line_.pop_back();
  if (line_.find('\r') != std::string::npos) return RespError::kBadLineEnd;
  state_ = State::kType;
  RespValue value;
  int64_t number = 0;
  switch (type_) {
    case '+':
    case '-':
      value.type = type_ == '+' ? RespType::kSimpleString : RespType::kError;
      value.text = std::move(line_);
      break;
    case ':':
      if (!parse_int64(line_, number)) return RespError::kBadInteger;
      value.type = RespType::kInteger;
      value.integer = number;
      break;
    case '$':
      if (!parse_int64(line_, number)) return RespError::kBadInteger;
      if (number < -1) return RespError::kBadLength;
      if (number == -1) break;  // the null bulk string
      if (static_cast<uint64_t>(number) > limits_.max_bulk_length) return RespError::kBulkTooLong;
      bulk_ = {};
      bulk_.type = RespType::kBulkString;
      bulk_.text.reserve(std::min(static_cast<size_t>(number), kBulkReserveCap));
      bulk_left_ = static_cast<size_t>(number);
      state_ = bulk_left_ == 0 ? State::kBulkCr : State::kBulk;
      return RespError::kNone;
    case '_':  // RESP3's null: nothing on the line
      if (!line_.empty()) return RespError::kBadLength;
      break;
    case '%':  // RESP3's map of n pairs: read as an array of 2n (key, value...)
      if (!parse_int64(line_, number)) return RespError::kBadInteger;
      if (number < 0 || number > INT64_MAX / 2) return RespError::kBadLength;
      return start_aggregate(RespType::kArray, number * 2);
    default:  // '*' and '>'
      if (!parse_int64(line_, number)) return RespError::kBadInteger;
      return start_aggregate(type_ == '*' ? RespType::kArray : RespType::kPush, number);
  }
  complete(std::move(value));
  return RespError::kNone;
}
//< resp.end-of-line

//> resp.start-aggregate
// "*<count>": checks the count against every limit, then opens the array.
RespError RespParser::start_aggregate(RespType type, int64_t count) {
  if (count < -1 || (count == -1 && type == RespType::kPush)) return RespError::kBadLength;
  if (count == -1) {  // RESP2's null array
    complete(RespValue{});
    return RespError::kNone;
  }
  const auto n = static_cast<uint64_t>(count);
  if (n > limits_.max_array_length) return RespError::kArrayTooLong;
  if (open_.size() + 1 > limits_.max_depth) return RespError::kTooDeep;
  elements_ += static_cast<size_t>(n);
  if (elements_ > limits_.max_total_elements) return RespError::kTooManyElements;
  RespValue array;
  array.type = type;
  if (n == 0) {
    complete(std::move(array));
    return RespError::kNone;
  }
  // Reserve what is announced only up to a small cap: the elements are
  // promised, not received, and a liar should not cost us memory.
  array.elements.reserve(std::min<size_t>(static_cast<size_t>(n), 64));
  open_.push_back({std::move(array), static_cast<size_t>(n)});
  return RespError::kNone;
}
//< resp.start-aggregate

//> resp.complete
// A value is complete: it is either the whole reply, or the next element of
// the innermost open array, which may complete that array in turn.
void RespParser::complete(RespValue value) {
  while (!open_.empty()) {
    Open& top = open_.back();
    top.array.elements.push_back(std::move(value));
    if (--top.left != 0) return;  // the array waits for more elements
    value = std::move(top.array);
    open_.pop_back();
  }
  value_ = std::move(value);
  elements_ = 0;
  finished_ = true;
}
//< resp.complete

// ---- encoding ----------------------------------------------------------------------

namespace {

void append_bulk(std::string& out, std::string_view text) {
  out += '$';
  out += std::to_string(text.size());
  out += "\r\n";
  out += text;
  out += "\r\n";
}

}  // namespace

//> resp.encode-command
void resp_append_command(std::string& out, std::span<const std::string_view> args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view arg : args) append_bulk(out, arg);
}
//< resp.encode-command

void resp_append_command(std::string& out, std::initializer_list<std::string_view> args) {
  resp_append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

void resp_append(std::string& out, const RespValue& value) {
  switch (value.type) {
    case RespType::kSimpleString:
    case RespType::kError:
      out += value.type == RespType::kSimpleString ? '+' : '-';
      out += value.text;
      out += "\r\n";
      return;
    case RespType::kInteger:
      out += ':';
      out += std::to_string(value.integer);
      out += "\r\n";
      return;
    case RespType::kBulkString: append_bulk(out, value.text); return;
    case RespType::kArray:
    case RespType::kPush:
      out += value.type == RespType::kArray ? '*' : '>';
      out += std::to_string(value.elements.size());
      out += "\r\n";
      for (const RespValue& element : value.elements) resp_append(out, element);
      return;
    case RespType::kNull: out += "$-1\r\n"; return;
  }
}

RespValue resp_bulk(std::string_view text) {
  RespValue value;
  value.type = RespType::kBulkString;
  value.text = std::string(text);
  return value;
}

RespValue resp_array(std::vector<RespValue> elements) {
  RespValue value;
  value.type = RespType::kArray;
  value.elements = std::move(elements);
  return value;
}

}  // namespace ws
