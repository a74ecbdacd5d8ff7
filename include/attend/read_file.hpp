// read_file.hpp — a whole file into memory, the one reader every format and command uses
// (configs, tokenizers, chat templates, training text, the CLI's input files).
//
// Failures are one line naming the file:
//   "PATH: cannot open: no such file"            (or the system's reason: permission denied, ...)
//   "PATH: is a folder, not a KIND"               (a folder would otherwise read as "")
//   "PATH: N bytes is too large for a KIND (limit M)"   checked before anything is read, so a
//                                                 config path pointing at a 10 GB model costs nothing
//   "PATH: read failed: REASON"
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace attend {

inline constexpr uint64_t kAnyFileSize = ~uint64_t(0);

// kind names the file in the messages ("text file", "JSON file attend reads", "chat template").
std::string read_file(const std::string& path, std::string_view kind = "file", uint64_t max_bytes = kAnyFileSize);

}  // namespace attend
