// Chapter 00 — the book follows the primer: every chapter's first line after
// its title names the step of the primer (websocket-primer.md) it builds, so a
// student always sees where the chapter stands. Reads tutorial/*.md.
// Run: make test CH=00
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Every numbered chapter: tutorial/NN-name.md.
std::vector<fs::path> chapters() {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(fs::path(OPENPIPE_SOURCE_DIR) / "tutorial")) {
    std::string name = entry.path().filename().string();
    if (name.size() > 3 && std::isdigit(static_cast<unsigned char>(name[0])) &&
        std::isdigit(static_cast<unsigned char>(name[1])) && name[2] == '-' &&
        entry.path().extension() == ".md") {
      found.push_back(entry.path());
    }
  }
  return found;
}

TEST(Ch00_Book, EveryChapterOpensWithThePrimerStepItBuilds) {
  std::vector<fs::path> all = chapters();
  ASSERT_GE(all.size(), 2u) << "no chapters found in " << OPENPIPE_SOURCE_DIR << "/tutorial";
  for (const fs::path& path : all) {
    std::ifstream file(path);
    std::string title, line;
    std::getline(file, title);
    while (std::getline(file, line) && line.empty()) {
    }
    EXPECT_TRUE(title.rfind("# ", 0) == 0) << path.filename() << ": the first line is the title";
    EXPECT_TRUE(line.rfind("*Primer step: ", 0) == 0 && line.find("§") != std::string::npos)
        << path.filename()
        << ": the first line after the title names the primer section it builds, e.g.\n"
           "  *Primer step: §4, step 3, \"Persistent channel\": the frames every message "
           "travels in.*\n"
           "(issue 10: a student sees which step of the primer each chapter builds)";
  }
}

}  // namespace
