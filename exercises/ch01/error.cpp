// EXERCISE SKELETON for chapter 01 (tutorial/01-core.md): src/core/error.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=01
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/core/error.cpp 01-core.md to_string http_status close_code
// The table behind to_string(), http_status() and close_code(): one row per
// error, so a new error cannot be added without saying what it answers.
#include "openpipe/core/error.h"
#include "todo.h"  // todo(): what every stub below calls

#include <ostream>

namespace ws {
namespace {

struct ErrorInfo {
  std::string_view name;  // readable, stable: used in logs and close reasons
  int http_status;        // before the upgrade (0 if not applicable)
  uint16_t close_code;    // after the upgrade (0 if not applicable)
};

}  // namespace

std::string_view to_string(Error error) {
  (void)error;
  todo("to_string (tutorial/01-core.md)");
}
int http_status(Error error) {
  (void)error;
  todo("http_status (tutorial/01-core.md)");
}
uint16_t close_code(Error error) {
  (void)error;
  todo("close_code (tutorial/01-core.md)");
}

std::ostream& operator<<(std::ostream& out, Error error) {
  return out << to_string(error);
}

std::string_view to_string(ParseStatus status) {
  (void)status;
  todo("to_string (tutorial/01-core.md)");
}

std::ostream& operator<<(std::ostream& out, ParseStatus status) {
  return out << to_string(status);
}

}  // namespace ws
