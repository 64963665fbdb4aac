// snippets: keeps the code quoted in tutorial/*.md identical to named regions of
// the source, so the tutorial can never drift from the code it explains.
// Owns: finding regions, filling chapter blocks, and the checks `make test` runs.
// Uses only the standard library (not the openpipe library): it checks the book, not the server.
// The idea comes from Crafting Interpreters (R. Nystrom); there, a missing snippet
// is only printed, here it fails the build.
//
//   snippets check  [--root DIR] [--figures FILE]...   report every problem, exit 1 if any
//   snippets update [--root DIR] [--figures FILE]...   rewrite every block and figure
//   snippets --list [--root DIR] [--figures FILE]...   print every region and figure
//
// SOURCE (files under src/ include/ examples/ tests/): a region is the lines between
//     //> NAME      and      //< NAME
// each alone on its line; NAME matches [a-z0-9._-]+ and is unique in the project.
// Where `//` starts no comment, wrap the marker in the file's own comment:
// `<!-- //> NAME -->` in HTML, `# //> NAME` in shell scripts. Regions may nest;
// marker lines are never quoted, and the common indentation is removed.
//
// CHAPTERS (tutorial/*.md): a block is two lines, at the start of the line and
// outside code fences:
//     <!-- snippet: NAME -->
//     <!-- /snippet -->
// `update` fills the block with "From `PATH`:" and a fenced copy of the region.
//
// FIGURES: a number the code or a measurement determines is quoted the same way,
// inline, outside code fences and inline code:
//     the object takes <!-- fig: size.ClientSocket -->240<!-- /fig --> bytes
// A figure's value comes from a figure source: a line `NAME = VALUE` (alone on its
// line) in a file given with --figures (generated ones, such as build/figures/sizes.txt,
// or committed measurements such as docs/bench-results.md, which carry their date and
// machine), or a break-it exercise, tests/breakit/STEM.breakit, whose `fails = A B`
// line gives breakit.STEM.fails ("`A` and `B`") and breakit.STEM.count ("2").
// `check` fails on a figure whose text differs from its source or whose name no
// source defines; `update` rewrites the text.

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Lines = std::vector<std::string>;

// Where regions live, and which files may hold them.
const std::vector<std::string> kSourceDirs = {"src", "include", "examples", "tests"};
const std::vector<std::string> kSourceExtensions = {".cpp", ".h",  ".hpp", ".html",
                                                    ".js",  ".sh", ".mk"};
// Every file under these must be named by path in some chapter (README.md does not count:
// it lists every file, so it would satisfy the check for all of them).
const std::vector<std::string> kMustBeNamedDirs = {"src", "include"};
const std::string kTutorialDir = "tutorial";
const std::string kTableOfContents = "README.md";

constexpr std::string_view kBlockOpen = "<!-- snippet: ";
constexpr std::string_view kBlockOpenEnd = " -->";
constexpr std::string_view kBlockClose = "<!-- /snippet -->";
constexpr std::string_view kFixCommand = "make snippets";

constexpr std::string_view kFigureOpen = "<!-- fig: ";
constexpr std::string_view kFigureOpenEnd = " -->";
constexpr std::string_view kFigureClose = "<!-- /fig -->";
const std::string kBreakItDir = "tests/breakit";
const std::string kBreakItExtension = ".breakit";

// ---- problems ---------------------------------------------------------------------

// Every problem is printed at once as `file:line: message`, the form editors jump to.
struct Problems {
  int count = 0;
  void report(const std::string& file, size_t line, const std::string& message) {
    std::cerr << file << ':' << line << ": " << message << '\n';
    ++count;
  }
};

// ---- text helpers -----------------------------------------------------------------

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view trim(std::string_view s) {
  s = trim_right(s);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool is_valid_name(std::string_view name) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  return !name.empty() && std::all_of(name.begin(), name.end(), allowed);
}

// Figure names may also hold capitals, for type names: size.ClientSocket.
bool is_valid_figure_name(std::string_view name) {
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  return !name.empty() && std::all_of(name.begin(), name.end(), allowed);
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// A file as lines without their '\n'. `final_newline` remembers whether the last
// line had one, so `update` writes back exactly the bytes it did not mean to change.
struct TextFile {
  Lines lines;
  bool final_newline = false;
};

TextFile read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  TextFile text;
  std::string line;
  while (std::getline(content, line)) text.lines.push_back(line);
  const std::string all = content.str();
  text.final_newline = !all.empty() && all.back() == '\n';
  return text;
}

std::string join(const TextFile& text) {
  std::string out;
  for (size_t i = 0; i < text.lines.size(); ++i) {
    out += text.lines[i];
    if (i + 1 < text.lines.size() || text.final_newline) out += '\n';
  }
  return out;
}

// Writes through a temporary file and a rename, so an interrupted run never
// leaves a half-written chapter behind.
bool write_text(const fs::path& path, const TextFile& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << join(text);
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

// Every regular file under root/dir (sorted, so output is the same on every machine),
// as a path relative to root such as "src/core/buffer.cpp". Hidden files are skipped.
std::vector<std::string> list_files(const fs::path& root, const std::string& dir) {
  std::vector<std::string> files;
  if (!fs::is_directory(root / dir)) return files;
  for (auto it = fs::recursive_directory_iterator(root / dir); it != fs::end(it); ++it) {
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file())
      files.push_back(it->path().lexically_relative(root).generic_string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool has_extension(const std::string& file, const std::vector<std::string>& extensions) {
  const std::string ext = fs::path(file).extension().string();
  return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
}

// ---- regions in the source ------------------------------------------------------------

struct Region {
  std::string name;
  std::string file;                 // relative to the root, e.g. "src/core/buffer.cpp"
  size_t line = 0;                  // of the opening marker, counting from 1
  Lines body;                       // the lines between the markers, minus nested markers
  std::vector<std::string> quotes;  // "tutorial/01-core.md:40" for every block that quotes it
};

using Regions = std::map<std::string, Region>;  // by name, so --list comes out sorted

struct Marker {
  bool opens = false;  // `//>` opens a region, `//<` closes one
  std::string name;
};

//> snippets.parse-marker
// Removes the comment a marker is wrapped in where `//` is not a comment:
// `<!-- //> NAME -->` (HTML) and `# //> NAME` (shell).
std::string_view unwrap_comment(std::string_view text) {
  if (text.size() >= 7 && text.starts_with("<!--") && text.ends_with("-->")) {
    return trim(text.substr(4, text.size() - 7));
  }
  if (text.starts_with("#")) return trim(text.substr(1));
  return text;
}

// A marker is a whole line: `//> NAME` or `//< NAME`, nothing else on it.
std::optional<Marker> parse_marker(std::string_view line) {
  std::string_view text = unwrap_comment(trim(line));
  if (!text.starts_with("//>") && !text.starts_with("//<")) return std::nullopt;
  return Marker{text[2] == '>', std::string(trim(text.substr(3)))};
}
//< snippets.parse-marker

// Adds one finished region, unless its name is already taken.
void add_region(Region region, Regions& regions, Problems& problems) {
  auto [it, inserted] = regions.try_emplace(region.name, region);
  if (!inserted) {
    problems.report(region.file, region.line,
                    "region " + in_quotes(region.name) + " is defined twice (first at " +
                        it->second.file + ":" + std::to_string(it->second.line) + ")");
  }
}

// Reads one source file's regions. `open` is a stack: regions nest, so the
// region opened last must close first, and every open region takes each
// non-marker line.
void scan_source(const fs::path& root, const std::string& file, Regions& regions,
                 Problems& problems) {
  const TextFile text = read_text(root / file);
  std::vector<Region> open;
  for (size_t i = 0; i < text.lines.size(); ++i) {
    const size_t line = i + 1;
    const std::optional<Marker> marker = parse_marker(text.lines[i]);
    if (!marker) {
      for (Region& region : open) region.body.push_back(text.lines[i]);
    } else if (!is_valid_name(marker->name)) {
      problems.report(file, line,
                      "bad region name " + in_quotes(marker->name) + ": use [a-z0-9._-]+");
    } else if (marker->opens) {
      open.push_back(Region{marker->name, file, line, {}, {}});
    } else if (open.empty()) {
      problems.report(file, line, "'//< " + marker->name + "' closes no open region");
    } else if (open.back().name != marker->name) {
      problems.report(file, line,
                      "'//< " + marker->name + "' does not match the open region " +
                          in_quotes(open.back().name) + " (line " +
                          std::to_string(open.back().line) + "): the last opened closes first");
    } else {
      add_region(std::move(open.back()), regions, problems);
      open.pop_back();
    }
  }
  for (const Region& region : open) {
    problems.report(
        file, region.line,
        "region " + in_quotes(region.name) + " is never closed: add '//< " + region.name + "'");
  }
}

Regions scan_sources(const fs::path& root, Problems& problems) {
  Regions regions;
  for (const std::string& dir : kSourceDirs) {
    for (const std::string& file : list_files(root, dir)) {
      if (has_extension(file, kSourceExtensions)) scan_source(root, file, regions, problems);
    }
  }
  return regions;
}

// ---- what a block should contain --------------------------------------------------

// Removes the indentation every non-blank line shares, so a region cut from
// inside a function does not start halfway across the page.
Lines dedent(const Lines& body) {
  std::optional<std::string> common;
  for (const std::string& line : body) {
    if (trim(line).empty()) continue;
    const std::string indent = line.substr(0, line.find_first_not_of(" \t"));
    if (!common) {
      common = indent;
    } else {
      size_t n = 0;
      while (n < common->size() && n < indent.size() && (*common)[n] == indent[n]) ++n;
      common->resize(n);
    }
  }
  Lines out;
  for (const std::string& line : body) {
    out.push_back(trim(line).empty() ? "" : line.substr(common ? common->size() : 0));
  }
  return out;
}

std::string language_for(const std::string& file) {
  const std::string ext = fs::path(file).extension().string();
  if (ext == ".html") return "html";
  if (ext == ".js") return "js";
  if (ext == ".sh") return "sh";
  if (ext == ".mk") return "make";
  return "cpp";
}

// Three backticks, or more if the code itself holds a line of backticks
// (a shell heredoc of markdown, say): the fence must be longer to enclose it.
std::string fence_for(const Lines& body) {
  size_t longest = 0;
  for (const std::string& line : body) {
    const std::string_view text = trim(line);
    const size_t run = std::min(text.find_first_not_of('`'), text.size());
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

// The lines between a block's two markers.
Lines render(const Region& region) {
  const Lines body = dedent(region.body);
  const std::string fence = fence_for(body);
  Lines out = {"From `" + region.file + "`:", fence + language_for(region.file)};
  out.insert(out.end(), body.begin(), body.end());
  out.push_back(fence);
  return out;
}

// ---- figure sources -------------------------------------------------------------------

struct Figure {
  std::string value;
  std::string source;  // "docs/bench-results.md:12", where the value comes from
  int uses = 0;
};

using Figures = std::map<std::string, Figure>;

void add_figure(Figures& figures, const std::string& name, const std::string& value,
                const std::string& source, Problems& problems) {
  auto [it, inserted] = figures.try_emplace(name, Figure{value, source, 0});
  if (!inserted && it->second.value != value) {
    problems.report(source, 0,
                    "figure " + in_quotes(name) + " = " + in_quotes(value) +
                        " is defined differently at " + it->second.source + " (" +
                        in_quotes(it->second.value) + ")");
  }
}

// A `NAME = VALUE` line, or nullopt for any other line (prose, headings, tables).
std::optional<std::pair<std::string, std::string>> figure_line(std::string_view line) {
  line = trim(line);
  const size_t eq = line.find(" = ");
  if (eq == std::string_view::npos) return std::nullopt;
  const std::string name(trim(line.substr(0, eq)));
  if (!is_valid_figure_name(name) || name.find('.') == std::string::npos) return std::nullopt;
  return std::make_pair(name, std::string(trim(line.substr(eq + 3))));
}

// Every `NAME = VALUE` line of a figure source given with --figures.
void read_figure_file(const fs::path& root, const std::string& file, Figures& figures,
                      Problems& problems) {
  const fs::path path = fs::path(file).is_absolute() ? fs::path(file) : root / file;
  if (!fs::is_regular_file(path)) {
    problems.report(file, 0, "figure source missing (is it generated by make test?)");
    return;
  }
  const TextFile text = read_text(path);
  for (size_t i = 0; i < text.lines.size(); ++i) {
    if (auto found = figure_line(text.lines[i])) {
      add_figure(figures, found->first, found->second, file + ":" + std::to_string(i + 1),
                 problems);
    }
  }
}

// "`A`", "`A` and `B`", "`A`, `B` and `C`": a list of test names as prose quotes it.
std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += "`" + items[i] + "`";
  }
  return out;
}

// A break-it exercise (tests/tools/breakit.sh applies it and runs the tests):
// `fails = Suite.Test ...` names exactly the tests that must fail.
void read_breakit(const fs::path& root, const std::string& file, Figures& figures,
                  Problems& problems) {
  const std::string stem = fs::path(file).stem().string();
  const TextFile text = read_text(root / file);
  for (size_t i = 0; i < text.lines.size(); ++i) {
    auto found = figure_line("breakit." + text.lines[i]);
    if (!found || found->first != "breakit.fails") continue;
    std::vector<std::string> tests;
    std::istringstream words(found->second);
    for (std::string word; words >> word;) tests.push_back(word);
    const std::string where = file + ":" + std::to_string(i + 1);
    add_figure(figures, "breakit." + stem + ".fails", quoted_list(tests), where, problems);
    add_figure(figures, "breakit." + stem + ".count", std::to_string(tests.size()), where,
               problems);
  }
}

Figures read_figures(const fs::path& root, const std::vector<std::string>& files,
                     Problems& problems) {
  Figures figures;
  for (const std::string& file : files) read_figure_file(root, file, figures, problems);
  for (const std::string& file : list_files(root, kBreakItDir)) {
    if (file.ends_with(kBreakItExtension)) read_breakit(root, file, figures, problems);
  }
  return figures;
}

// ---- blocks in the chapters ---------------------------------------------------------

struct Block {
  std::string name;
  size_t open = 0;   // index of the `<!-- snippet: NAME -->` line
  size_t close = 0;  // index of the `<!-- /snippet -->` line
};

// One inline figure: `<!-- fig: NAME -->VALUE<!-- /fig -->` on line `line`,
// VALUE at [begin, end) of that line.
struct FigureUse {
  std::string name;
  size_t line = 0;
  size_t begin = 0, end = 0;
};

struct Chapter {
  std::string file;  // e.g. "tutorial/01-core.md"
  TextFile text;
  std::vector<Block> blocks;
  std::vector<FigureUse> figures;
  bool complete = true;  // false if a block never closes: then `update` leaves the file alone
};

// The NAME of a `<!-- snippet: NAME -->` line, or nullopt for any other line.
std::optional<std::string> block_name(std::string_view line) {
  line = trim_right(line);
  if (!line.starts_with(kBlockOpen) || !line.ends_with(kBlockOpenEnd)) return std::nullopt;
  line.remove_prefix(kBlockOpen.size());
  line.remove_suffix(kBlockOpenEnd.size());
  return std::string(trim(line));
}

bool is_block_close(std::string_view line) {
  return trim_right(line) == kBlockClose;
}

// The fence a line opens (``` or ~~~, or longer), or "" if it opens none. Blocks
// inside fenced code are examples in the text, not blocks to fill.
std::string fence_opened_by(std::string_view line) {
  line = trim(line);
  if (!line.starts_with("```") && !line.starts_with("~~~")) return "";
  return std::string(line.substr(0, std::min(line.find_first_not_of(line[0]), line.size())));
}

bool closes_fence(std::string_view line, const std::string& fence) {
  line = trim(line);
  return line.starts_with(fence) && line.find_first_not_of(fence[0]) == std::string_view::npos;
}

// Finds the line that closes the block opened at `open`; nullopt if another
// block opens first or the file ends.
std::optional<size_t> find_block_close(const Lines& lines, size_t open) {
  for (size_t i = open + 1; i < lines.size(); ++i) {
    if (is_block_close(lines[i])) return i;
    if (block_name(lines[i])) return std::nullopt;
  }
  return std::nullopt;
}

// The inline figures of one line outside code fences. Inline code (`...`) is
// skipped, so a chapter can show the syntax without using it.
void find_figures(const std::string& file, size_t index, const std::string& line,
                  std::vector<FigureUse>& uses, Problems& problems) {
  size_t at = 0;
  while (at < line.size()) {
    const size_t tick = line.find('`', at);
    const size_t open = line.find(kFigureOpen, at);
    if (open == std::string::npos) return;
    if (tick < open) {  // skip the code span
      const size_t run = line.find_first_not_of('`', tick) - tick;
      const size_t close = line.find(std::string(run, '`'), tick + run);
      if (close == std::string::npos) return;
      at = close + run;
      continue;
    }
    const size_t name_end = line.find(kFigureOpenEnd, open + kFigureOpen.size());
    const size_t value_end = name_end == std::string::npos
                                 ? std::string::npos
                                 : line.find(kFigureClose, name_end + kFigureOpenEnd.size());
    if (value_end == std::string::npos) {
      problems.report(file, index + 1, "figure never closed: end it with '<!-- /fig -->'");
      return;
    }
    const std::string name(trim(std::string_view(line).substr(
        open + kFigureOpen.size(), name_end - open - kFigureOpen.size())));
    if (!is_valid_figure_name(name)) {
      problems.report(file, index + 1, "bad figure name " + in_quotes(name));
    }
    uses.push_back(FigureUse{name, index, name_end + kFigureOpenEnd.size(), value_end});
    at = value_end + kFigureClose.size();
  }
}

Chapter read_chapter(const fs::path& root, const std::string& file, Problems& problems) {
  Chapter chapter{file, read_text(root / file), {}, {}, true};
  const Lines& lines = chapter.text.lines;
  std::string fence;  // the code fence we are inside, "" outside one
  size_t fence_line = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!fence.empty()) {
      if (closes_fence(lines[i], fence)) fence.clear();
      continue;
    }
    if (fence = fence_opened_by(lines[i]); !fence.empty()) {
      fence_line = i + 1;
      continue;
    }
    if (is_block_close(lines[i])) {
      problems.report(file, i + 1, "'<!-- /snippet -->' closes no block");
      continue;
    }
    find_figures(file, i, lines[i], chapter.figures, problems);
    const std::optional<std::string> name = block_name(lines[i]);
    if (!name) continue;
    if (!is_valid_name(*name)) {
      problems.report(file, i + 1, "bad snippet name " + in_quotes(*name) + ": use [a-z0-9._-]+");
    }
    const std::optional<size_t> close = find_block_close(lines, i);
    if (!close) {
      problems.report(
          file, i + 1,
          "snippet block " + in_quotes(*name) + " is never closed: add '<!-- /snippet -->'");
      chapter.complete = false;
      return chapter;  // where the block ends is unknown, so the rest cannot be trusted
    }
    chapter.blocks.push_back(Block{*name, i, *close});
    i = *close;
  }
  if (!fence.empty()) {
    problems.report(file, fence_line, "code fence " + fence + " is never closed");
  }
  return chapter;
}

std::vector<Chapter> read_chapters(const fs::path& root, Problems& problems) {
  std::vector<Chapter> chapters;
  for (const std::string& file : list_files(root, kTutorialDir)) {
    if (file.ends_with(".md")) chapters.push_back(read_chapter(root, file, problems));
  }
  return chapters;
}

// Records which block quotes which region, and reports names that exist nowhere.
void link_blocks(const std::vector<Chapter>& chapters, Regions& regions, Problems& problems) {
  for (const Chapter& chapter : chapters) {
    for (const Block& block : chapter.blocks) {
      auto it = regions.find(block.name);
      if (it == regions.end()) {
        problems.report(chapter.file, block.open + 1,
                        "no region is named " + in_quotes(block.name) + " (mark one with '//> " +
                            block.name + "' ... '//< " + block.name + "')");
      } else {
        it->second.quotes.push_back(chapter.file + ":" + std::to_string(block.open + 1));
      }
    }
  }
}

// ---- the project-wide checks ------------------------------------------------------

void report_unquoted(const Regions& regions, Problems& problems) {
  for (const auto& [name, region] : regions) {
    if (region.quotes.empty()) {
      problems.report(region.file, region.line,
                      "region " + in_quotes(name) + " is quoted by no chapter: add '" +
                          std::string(kBlockOpen) + name + std::string(kBlockOpenEnd) + "' to one");
    }
  }
}

bool is_path_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
         c == '.';
}

// True if `text` names `path` as a whole word: "src/io/fd.cpp" must not count
// as naming "src/io/fd.c". A '.' right after it is fine (the end of a sentence).
bool names_path(const std::string& text, const std::string& path) {
  for (size_t at = text.find(path); at != std::string::npos; at = text.find(path, at + 1)) {
    const size_t end = at + path.size();
    const bool clean_start = at == 0 || !is_path_char(text[at - 1]);
    const bool clean_end =
        end == text.size() || !is_path_char(text[end]) ||
        (text[end] == '.' && (end + 1 == text.size() || !is_path_char(text[end + 1])));
    if (clean_start && clean_end) return true;
  }
  return false;
}

// Each module is mirrored by a chapter, so each file must be named by one.
void report_unnamed_files(const fs::path& root, const std::vector<Chapter>& chapters,
                          Problems& problems) {
  std::string text;
  for (const Chapter& chapter : chapters) {
    if (fs::path(chapter.file).filename() != kTableOfContents) text += join(chapter.text) + "\n";
  }
  for (const std::string& dir : kMustBeNamedDirs) {
    for (const std::string& file : list_files(root, dir)) {
      if (!names_path(text, file)) {
        problems.report(
            file, 1,
            "no chapter names this file: write `" + file + "` in the chapter that explains it");
      }
    }
  }
}

// ---- check and update ---------------------------------------------------------------

Lines current_body(const Chapter& chapter, const Block& block) {
  const Lines& lines = chapter.text.lines;
  return Lines(lines.begin() + block.open + 1, lines.begin() + block.close);
}

// Reports the first line where a block differs from what its region renders to.
void report_difference(const Chapter& chapter, const Block& block, const Lines& expected,
                       Problems& problems) {
  const Lines actual = current_body(chapter, block);
  size_t k = 0;
  while (k < expected.size() && k < actual.size() && expected[k] == actual[k]) ++k;
  const std::string want = k < expected.size() ? "\"" + expected[k] + "\"" : "(end of block)";
  const std::string got = k < actual.size() ? "\"" + actual[k] + "\"" : "(end of block)";
  problems.report(chapter.file, block.open + 2 + k,
                  "block " + in_quotes(block.name) +
                      " differs from its region\n    expected: " + want + "\n    found:    " + got);
}

int check_blocks(const std::vector<Chapter>& chapters, const Regions& regions, Problems& problems) {
  int differences = 0;
  for (const Chapter& chapter : chapters) {
    for (const Block& block : chapter.blocks) {
      auto it = regions.find(block.name);
      if (it == regions.end()) continue;  // already reported
      const Lines expected = render(it->second);
      if (current_body(chapter, block) != expected) {
        report_difference(chapter, block, expected, problems);
        ++differences;
      }
    }
  }
  return differences;
}

// ---- figures in the chapters -----------------------------------------------------

std::string figure_text(const Chapter& chapter, const FigureUse& use) {
  return chapter.text.lines[use.line].substr(use.begin, use.end - use.begin);
}

// Every figure must name a known figure and show its value.
int check_figures(std::vector<Chapter>& chapters, Figures& figures, Problems& problems) {
  int differences = 0;
  for (const Chapter& chapter : chapters) {
    for (const FigureUse& use : chapter.figures) {
      auto it = figures.find(use.name);
      if (it == figures.end()) {
        problems.report(chapter.file, use.line + 1,
                        "no figure source defines " + in_quotes(use.name) +
                            " (a `NAME = VALUE` line in a --figures file or a .breakit)");
        continue;
      }
      ++it->second.uses;
      if (figure_text(chapter, use) != it->second.value) {
        problems.report(chapter.file, use.line + 1,
                        "figure " + in_quotes(use.name) + " says " +
                            in_quotes(figure_text(chapter, use)) + ", its source " +
                            it->second.source + " says " + in_quotes(it->second.value));
        ++differences;
      }
    }
  }
  return differences;
}

// The chapter's lines with every known figure rewritten from its source (right to
// left on each line, so earlier positions stay valid).
Lines with_figures(const Chapter& chapter, const Figures& figures,
                   std::vector<std::string>& changed) {
  Lines lines = chapter.text.lines;
  for (auto use = chapter.figures.rbegin(); use != chapter.figures.rend(); ++use) {
    auto it = figures.find(use->name);
    if (it == figures.end() || figure_text(chapter, *use) == it->second.value) continue;
    lines[use->line].replace(use->begin, use->end - use->begin, it->second.value);
    changed.push_back("figure " + use->name);
  }
  return lines;
}

// Rebuilds a chapter with every known block refilled and every figure rewritten; all
// other lines are kept as they are.
TextFile refill(const Chapter& chapter, const Regions& regions, const Figures& figures,
                std::vector<std::string>& changed) {
  TextFile out{{}, chapter.text.final_newline};
  const Lines lines = with_figures(chapter, figures, changed);
  size_t next = 0;  // first line not yet copied
  for (const Block& block : chapter.blocks) {
    out.lines.insert(out.lines.end(), lines.begin() + next, lines.begin() + block.open + 1);
    auto it = regions.find(block.name);
    Lines body = it == regions.end() ? current_body(chapter, block) : render(it->second);
    if (body != current_body(chapter, block)) changed.push_back(block.name);
    out.lines.insert(out.lines.end(), body.begin(), body.end());
    next = block.close;
  }
  out.lines.insert(out.lines.end(), lines.begin() + next, lines.end());
  return out;
}

int update_blocks(const fs::path& root, const std::vector<Chapter>& chapters,
                  const Regions& regions, const Figures& figures, Problems& problems) {
  int rewritten = 0;
  for (const Chapter& chapter : chapters) {
    if (!chapter.complete) continue;
    std::vector<std::string> changed;
    const TextFile text = refill(chapter, regions, figures, changed);
    if (changed.empty()) continue;
    if (!write_text(root / chapter.file, text)) {
      problems.report(chapter.file, 1, "cannot write the file");
      continue;
    }
    for (const std::string& name : changed) {
      std::cout << "updated " << chapter.file << ": " << name << '\n';
    }
    rewritten += static_cast<int>(changed.size());
  }
  return rewritten;
}

void print_list(const Regions& regions, const std::vector<Chapter>& chapters,
                const Figures& figures) {
  for (const auto& [name, region] : regions) {
    std::cout << name << "  " << region.file << ':' << region.line << "  ";
    if (region.quotes.empty()) std::cout << "(quoted by no chapter)";
    for (size_t i = 0; i < region.quotes.size(); ++i) {
      std::cout << (i ? ", " : "quoted in ") << region.quotes[i];
    }
    std::cout << '\n';
  }
  for (const auto& [name, figure] : figures) {
    std::cout << "figure " << name << " = " << figure.value << "  " << figure.source;
    for (const Chapter& chapter : chapters) {
      for (const FigureUse& use : chapter.figures) {
        if (use.name == name) std::cout << "  " << chapter.file << ':' << use.line + 1;
      }
    }
    std::cout << '\n';
  }
}

// ---- main ---------------------------------------------------------------------------

enum class Mode { kCheck, kUpdate, kList };

int usage() {
  std::cerr << "usage: snippets check|update|--list [--root DIR] [--figures FILE]...\n"
               "  check   report blocks and figures that differ from their source, and every\n"
               "          other problem\n"
               "  update  rewrite every block and figure in tutorial/*.md from its source\n"
               "  --list  print every region and figure and where it is quoted\n";
  return 2;
}

int run(Mode mode, const fs::path& root, const std::vector<std::string>& figure_files) {
  Problems problems;
  Regions regions = scan_sources(root, problems);
  Figures figures = read_figures(root, figure_files, problems);
  std::vector<Chapter> chapters = read_chapters(root, problems);
  link_blocks(chapters, regions, problems);
  if (mode == Mode::kList) {
    print_list(regions, chapters, figures);
    return problems.count == 0 ? 0 : 1;
  }
  report_unquoted(regions, problems);
  report_unnamed_files(root, chapters, problems);
  if (mode == Mode::kUpdate) {
    const int rewritten = update_blocks(root, chapters, regions, figures, problems);
    std::cout << "snippets: " << rewritten << " block(s) and figure(s) rewritten\n";
  } else if (check_blocks(chapters, regions, problems) +
                 check_figures(chapters, figures, problems) >
             0) {
    std::cerr << "snippets: run '" << kFixCommand
              << "' to rewrite the blocks and figures from their sources\n";
  }
  if (problems.count > 0) {
    std::cerr << "snippets: " << problems.count << " problem(s)\n";
    return 1;
  }
  if (mode == Mode::kCheck) {
    size_t blocks = 0;
    for (const Chapter& chapter : chapters) blocks += chapter.blocks.size();
    size_t quoted = 0;
    for (const Chapter& chapter : chapters) quoted += chapter.figures.size();
    std::cout << "snippets: ok (" << regions.size() << " regions, " << blocks << " blocks, "
              << quoted << " figures in " << chapters.size() << " chapters)\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Mode> mode;
  fs::path root = ".";
  std::vector<std::string> figure_files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "check" && !mode) {
      mode = Mode::kCheck;
    } else if (arg == "update" && !mode) {
      mode = Mode::kUpdate;
    } else if ((arg == "--list" || arg == "list") && !mode) {
      mode = Mode::kList;
    } else if (arg == "--root" && i + 1 < argc) {
      root = argv[++i];
    } else if (arg == "--figures" && i + 1 < argc) {
      figure_files.push_back(argv[++i]);
    } else {
      return usage();
    }
  }
  if (!mode) return usage();
  if (!fs::is_directory(root)) {
    std::cerr << "snippets: " << root.string() << " is not a directory\n";
    return 2;
  }
  return run(*mode, root, figure_files);
}
