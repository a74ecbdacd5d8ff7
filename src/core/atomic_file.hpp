// core/atomic_file.hpp — writing files so that a reader never sees half of one.
//
// Every file attend writes (checkpoints, models, tokenizers, token files, loss curves, pages,
// heatmaps) goes to a temporary `<path>.tmp.<pid>.<16 random hex digits>` first (same folder:
// the rename stays on one filesystem, so it is atomic), is flushed and fsync'ed, and is
// renamed over `path` once complete; the folder is then fsync'ed too, so the rename itself
// survives a power cut. A crash or a kill mid-write leaves the old file or the new one, plus
// at worst the temporary, which remove_stale_temporaries clears later.
//
// The temporary is created with O_CREAT | O_EXCL | O_NOFOLLOW and a name nobody can guess:
// a file or symlink planted in a shared folder is never opened, followed or truncated (the
// open fails on a name that exists; another name is drawn). Private to src/.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace attend {

// Opens the temporary file, lets `write` fill it (it returns false on failure), flushes,
// fsyncs, closes, renames and fsyncs the folder. Any failure removes the temporary file and
// throws an Error naming path.
void write_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write);
void write_text_atomically(const std::string& path, std::string_view text);

// fsyncs a folder (after a rename or an unlink in it): an Error naming it when that fails,
// except on filesystems that cannot sync a folder (EINVAL), where there is nothing to do.
void fsync_folder(const std::string& folder);

// Removes, in `folder`, the temporaries write_atomically leaves when its process is killed
// mid-write (`<name>.tmp.<pid>` or `<name>.tmp.<pid>.<hex>`) whose process is gone; a live
// process's (one writing right now) are left alone. Returns how many were removed.
int remove_stale_temporaries(const std::string& folder);

}  // namespace attend
