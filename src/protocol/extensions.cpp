// Sec-WebSocket-Extensions (RFC 6455 §9.1): a small recursive-descent parser
// for the header's grammar. See extensions.h; the tutorial is chapter 22.
#include "openpipe/protocol/extensions.h"

namespace ws {
namespace {

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

//> extensions.grammar
// RFC 6455 §9.1:
//   extension-list = 1#extension
//   extension      = extension-token *( ";" extension-param )
//   extension-param = token [ "=" (token | quoted-string) ]
//       ; "When using the quoted-string syntax variant, the value after
//       ; quoted-string unescaping MUST conform to the 'token' ABNF."
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  void skip_spaces() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool at_end() const { return pos_ == text_.size(); }
  bool take(char c) {
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string_view token() {
    skip_spaces();
    const size_t start = pos_;
    while (pos_ < text_.size() && is_tchar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  // A token or a quoted-string whose unescaped content is a token.
  bool value(std::string& out) {
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] != '"') {
      out = token();
      return !out.empty();
    }
    ++pos_;  // the opening quote
    out.clear();
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') ++pos_;  // quoted-pair: the next character as it is
      if (pos_ == text_.size()) return false;
      out += text_[pos_++];
    }
    if (pos_ == text_.size()) return false;  // no closing quote
    ++pos_;
    return is_token(out);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

bool parse_element(Reader& in, ExtensionOffer& offer) {
  offer.name = in.token();
  if (offer.name.empty()) return false;
  while (in.take(';')) {
    if (offer.params.size() == kMaxExtensionParams) return false;
    ExtensionParam param;
    param.name = in.token();
    if (param.name.empty()) return false;
    if (in.take('=')) {
      param.has_value = true;
      if (!in.value(param.value)) return false;
    }
    offer.params.push_back(std::move(param));
  }
  return true;
}
//< extensions.grammar

}  // namespace

bool parse_extensions(const std::vector<std::string_view>& values,
                      std::vector<ExtensionOffer>& out) {
  for (std::string_view value : values) {
    Reader in(value);
    // RFC 7230 §7: a recipient accepts and ignores empty list elements.
    while (true) {
      while (in.take(',')) {
      }
      in.skip_spaces();
      if (in.at_end()) break;
      if (out.size() == kMaxExtensionOffers) return false;
      ExtensionOffer offer;
      if (!parse_element(in, offer)) return false;
      out.push_back(std::move(offer));
      in.skip_spaces();
      if (!in.at_end() && !in.take(',')) return false;  // junk after an element
    }
  }
  return true;
}

std::string format_extension(const ExtensionOffer& extension) {
  std::string out = extension.name;
  for (const ExtensionParam& param : extension.params) {
    out.append("; ").append(param.name);
    if (param.has_value) out.append("=").append(param.value);
  }
  return out;
}

}  // namespace ws
