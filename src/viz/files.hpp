// viz/files.hpp — writing output files so that a reader never sees half of one.
//
// Every file viz writes goes to `<path>.tmp.<pid>` first and is renamed over `path` once
// complete: a viewer refreshing the page or a crash mid-write leaves the old file or the new
// one. Private to src/viz.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace attend::viz {

// Opens the temporary file, lets `write` fill it (it returns false on failure), flushes,
// closes and renames. Any failure removes the temporary file and throws an Error naming path.
void write_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write);
void write_text_atomically(const std::string& path, std::string_view text);

}  // namespace attend::viz
