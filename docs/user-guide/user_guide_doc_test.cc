// docs/user-guide.md shows code only as it is in files the build compiles, so
// the guide cannot drift from the SDK. Every ```cpp and ```cmake block in it
// follows a line
//
//   <!-- snippet: PATH NAME -->
//
// and is, line for line, what PATH (relative to the repository root) holds
// between the lines marked [START NAME] and [END NAME], less the indentation
// those lines share. Every region marked in docs/user-guide/ is shown.
// docs/fault-injection.md is held to the first rule too.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::string kRoot = HOURGLASS_SOURCE_DIR;
const std::string kGuide = "docs/user-guide.md";

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Removes the indentation every non-empty line shares.
std::vector<std::string> Dedent(std::vector<std::string> lines) {
  size_t indent = std::string::npos;
  for (const auto& l : lines) {
    if (l.find_first_not_of(' ') != std::string::npos) indent = std::min(indent, l.find_first_not_of(' '));
  }
  for (auto& l : lines) l = l.size() >= indent && indent != std::string::npos ? l.substr(indent) : "";
  return lines;
}

struct Block {
  int line = 0;  // of the opening fence, 1-based
  std::string lang;
  std::optional<std::string> path;  // from the snippet marker
  std::optional<std::string> name;
  std::vector<std::string> body;
};

// The guide's fenced blocks, with the snippet marker each follows, if any.
std::vector<Block> ParseGuide(const std::string& text, std::vector<std::string>* errors) {
  static const std::regex kMarker(R"(^<!-- snippet: (\S+) (\S+) -->$)");
  std::vector<Block> blocks;
  const auto lines = Lines(text);
  std::optional<std::pair<std::string, std::string>> marker;
  int marker_line = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_match(lines[i], m, kMarker)) {
      marker = {m[1], m[2]};
      marker_line = static_cast<int>(i + 1);
      continue;
    }
    if (lines[i].rfind("```", 0) != 0) {
      if (marker) errors->push_back("line " + std::to_string(marker_line) + ": a snippet marker not followed by a code block");
      marker.reset();
      continue;
    }
    Block b;
    b.line = static_cast<int>(i + 1);
    b.lang = lines[i].substr(3);
    if (marker) {
      b.path = marker->first;
      b.name = marker->second;
      marker.reset();
    }
    for (++i; i < lines.size() && lines[i] != "```"; ++i) b.body.push_back(lines[i]);
    if (i == lines.size()) errors->push_back("line " + std::to_string(b.line) + ": code block never closed");
    blocks.push_back(std::move(b));
  }
  return blocks;
}

// A region marker: a comment line holding only "[START name]" or "[END name]".
const std::regex kRegionMarker(R"(^\s*(?://|#)\s*\[(START|END) ([^\]\s]+)\]\s*$)");

bool IsMarker(const std::string& line, const std::string& kind, const std::string& name) {
  std::smatch m;
  return std::regex_match(line, m, kRegionMarker) && m[1] == kind && m[2] == name;
}

// The lines between [START name] and [END name] in `text`, dedented.
std::optional<std::vector<std::string>> Region(const std::string& text, const std::string& name, std::string* error) {
  const auto lines = Lines(text);
  auto is_start = [&](const std::string& l) { return IsMarker(l, "START", name); };
  auto first = std::find_if(lines.begin(), lines.end(), is_start);
  if (first == lines.end()) {
    *error = "no [START " + name + "]";
    return std::nullopt;
  }
  if (std::count_if(lines.begin(), lines.end(), is_start) > 1) {
    *error = "two regions named " + name;
    return std::nullopt;
  }
  auto last = std::find_if(first + 1, lines.end(), [&](const auto& l) { return IsMarker(l, "END", name); });
  if (last == lines.end()) {
    *error = "[START " + name + "] without [END " + name + "]";
    return std::nullopt;
  }
  std::vector<std::string> body(first + 1, last);
  for (const auto& l : body) {
    if (std::regex_match(l, kRegionMarker)) {
      *error = "regions must not nest (inside " + name + ": " + l + ")";
      return std::nullopt;
    }
  }
  return Dedent(body);
}

// Every cpp and cmake block of `doc` is a marked region of a compiled file.
void CheckSnippets(const std::string& doc) {
  const auto guide = ReadFile(kRoot + "/" + doc);
  ASSERT_TRUE(guide) << doc << " is missing";
  std::vector<std::string> errors;
  const auto blocks = ParseGuide(*guide, &errors);
  for (const auto& e : errors) ADD_FAILURE() << doc << ": " << e;
  int checked = 0;
  for (const auto& b : blocks) {
    const std::string where = doc + ":" + std::to_string(b.line);
    if (b.lang != "cpp" && b.lang != "cmake") {
      EXPECT_FALSE(b.path) << where << ": only cpp and cmake blocks are checked; drop the marker or the language";
      continue;
    }
    if (!b.path) {
      ADD_FAILURE() << where << ": a " << b.lang
                    << " block without a <!-- snippet: PATH NAME --> marker (code in the guide must be compiled)";
      continue;
    }
    const auto source = ReadFile(kRoot + "/" + *b.path);
    if (!source) {
      ADD_FAILURE() << where << ": " << *b.path << " does not exist";
      continue;
    }
    std::string error;
    const auto region = Region(*source, *b.name, &error);
    if (!region) {
      ADD_FAILURE() << where << ": " << *b.path << ": " << error;
      continue;
    }
    ++checked;
    if (*region == b.body) continue;
    size_t i = 0;
    while (i < region->size() && i < b.body.size() && (*region)[i] == b.body[i]) ++i;
    ADD_FAILURE() << where << ": the block differs from " << *b.path << " [" << *b.name << "] at its line " << i + 1
                  << "\n  guide:  " << (i < b.body.size() ? b.body[i] : "<end>")
                  << "\n  source: " << (i < region->size() ? (*region)[i] : "<end>") << "\nThe region is:\n"
                  << Join(*region);
  }
  EXPECT_GT(checked, 0) << "no snippet blocks found in " << doc;
}

TEST(UserGuide, EveryCppAndCmakeBlockIsAMarkedRegionOfACompiledFile) { CheckSnippets(kGuide); }

// The fault-injection guide's code (a call site, the test-kit example) too.
TEST(FaultInjectionDoc, EveryCppAndCmakeBlockIsAMarkedRegionOfACompiledFile) {
  CheckSnippets("docs/fault-injection.md");
}

TEST(UserGuide, EveryRegionInDocsUserGuideIsShown) {
  const auto guide = ReadFile(kRoot + "/" + kGuide);
  ASSERT_TRUE(guide);
  std::vector<std::string> ignored;
  std::set<std::pair<std::string, std::string>> shown;
  for (const auto& b : ParseGuide(*guide, &ignored)) {
    if (b.path) shown.insert({*b.path, *b.name});
  }
  for (const auto& entry : std::filesystem::directory_iterator(kRoot + "/docs/user-guide")) {
    const std::string path = "docs/user-guide/" + entry.path().filename().string();
    const auto text = ReadFile(entry.path());
    ASSERT_TRUE(text) << path;
    for (const auto& line : Lines(*text)) {
      std::smatch m;
      if (std::regex_match(line, m, kRegionMarker) && m[1] == "START") {
        EXPECT_TRUE(shown.contains({path, m[2]})) << path << " marks region " << m[2] << " but " << kGuide
                                                  << " does not show it";
      }
    }
  }
}

}  // namespace
