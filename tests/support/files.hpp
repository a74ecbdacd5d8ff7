// tests/support/files.hpp — the files a test writes, reads and finds: a fresh folder per test,
// whole-file reads and writes, the shared data folder, and quoting paths for a shell.
#pragma once
#include <filesystem>
#include <string>

namespace attend::testing {

// A fresh, empty folder named after the running test (suite, test and process id, so tests
// that ctest runs in parallel never share one), removed with everything in it when destroyed.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& dir() const { return dir_; }
    // The path of `name` inside the folder (not created).
    std::string path(const std::string& name) const;
    // Writes `bytes` to `name` inside the folder (creating subfolders) and returns its path.
    std::string write(const std::string& name, const std::string& bytes) const;

private:
    std::filesystem::path dir_;
};

// `dir`/corpus.txt, a small corpus with structure to learn (repeated sentences with varying
// numbers, 300 lines), written and its path returned: the training tests' data.
std::string corpus_file(const std::string& dir);

// The whole file as bytes; a test failure (and "") when it cannot be opened.
std::string read_file(const std::filesystem::path& path);
// Writes `bytes` to `path`, replacing it; a test failure when it cannot.
void write_file(const std::filesystem::path& path, const std::string& bytes);

// `relative` under the shared data folder (ATTEND_SHARED_DATA). A test failure, never a skip,
// when it is not there: CI must not pass because the data went missing.
std::string shared_data(const std::string& relative);

// A safetensors file from its header text and data section, as given (no padding, no checks):
// the way to write the broken files the readers must refuse.
std::string safetensors_bytes(const std::string& header, const std::string& data);

// `s` as one word for a POSIX shell: single quotes, with any ' inside written '\''.
std::string shell_quote(const std::string& s);

}  // namespace attend::testing
