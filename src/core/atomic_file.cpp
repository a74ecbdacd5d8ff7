// core/atomic_file.cpp — temporary file, fsync, then rename (see atomic_file.hpp).
#include "core/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "attend/error.hpp"

namespace attend {

void write_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    ATTEND_CHECK(f != nullptr, path, ": cannot create ", tmp, ": ", std::strerror(errno));
    bool ok = false;
    try {
        ok = write(f);
    } catch (...) {
        std::fclose(f);
        std::remove(tmp.c_str());
        throw;
    }
    // The errno of the first step that failed: write, flush/fsync, close or rename.
    int error = ok ? 0 : errno;
    if (ok && (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0)) ok = false, error = errno;
    if (std::fclose(f) != 0 && ok) ok = false, error = errno;
    if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return;
    if (ok) error = errno;
    std::remove(tmp.c_str());
    ATTEND_CHECK(false, path, ": cannot write the file: ", std::strerror(error));
}

void write_text_atomically(const std::string& path, std::string_view text) {
    write_atomically(path, [&](std::FILE* f) { return std::fwrite(text.data(), 1, text.size(), f) == text.size(); });
}

}  // namespace attend
