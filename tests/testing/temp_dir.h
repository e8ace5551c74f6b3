#pragma once

// A fresh, short directory under /tmp (socket paths are limited to 107 bytes),
// removed with everything in it when the owner goes away. Declare it before
// any child process that writes into it, so the process is stopped first.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <utility>

namespace hourglass::testing {

class TempDir {
 public:
  explicit TempDir(const char* prefix = "hg-test") {
    std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = std::move(tmpl);
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // HOURGLASS_KEEP_TEST_DIRS=1 keeps the directories (logs, databases) for a
  // post-mortem of a failing test.
  ~TempDir() {
    if (path_.empty()) return;
    if (const char* keep = ::getenv("HOURGLASS_KEEP_TEST_DIRS"); keep != nullptr && *keep == '1') return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hourglass::testing
