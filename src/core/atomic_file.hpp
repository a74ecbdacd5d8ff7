// core/atomic_file.hpp — writing files so that a reader never sees half of one.
//
// Every file attend writes (checkpoints, models, tokenizers, token files, loss curves, pages,
// heatmaps) goes to `<path>.tmp.<pid>` first (same folder: the rename stays on one
// filesystem, so it is atomic), is flushed and fsync'ed, and is renamed over `path` once
// complete: a crash or a kill mid-write leaves the old file or the new one. Private to src/.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace attend {

// Opens the temporary file, lets `write` fill it (it returns false on failure), flushes,
// fsyncs, closes and renames. Any failure removes the temporary file and throws an Error
// naming path.
void write_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write);
void write_text_atomically(const std::string& path, std::string_view text);

}  // namespace attend
