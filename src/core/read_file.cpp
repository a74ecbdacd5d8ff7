// core/read_file.cpp — open, fstat (a folder, a size over the limit: refused before reading),
// read to the end (see attend/read_file.hpp). Self-contained: the fuzz targets link it.
#include "attend/read_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "attend/error.hpp"

namespace attend {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

std::string too_large(uint64_t bytes, std::string_view kind, uint64_t max_bytes) {
    return std::to_string(bytes) + " bytes is too large for a " + std::string(kind) + " (limit " +
           std::to_string(max_bytes) + ")";
}

struct Fd {
    int fd;
    ~Fd() { ::close(fd); }
};

}  // namespace

std::string read_file(const std::string& path, std::string_view kind, uint64_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, std::string("cannot open: ") + (errno == ENOENT ? "no such file" : std::strerror(errno)));
    const Fd closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(path, "is a folder, not a " + std::string(kind));
    std::string text;
    if (S_ISREG(st.st_mode)) {
        if (uint64_t(st.st_size) > max_bytes) fail(path, too_large(uint64_t(st.st_size), kind, max_bytes));
        text.reserve(size_t(st.st_size));
    }
    // To the end, whatever fstat said: a file may grow, and a pipe or /dev/stdin has no size.
    char buffer[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(path, std::string("read failed: ") + std::strerror(errno));
        }
        if (n == 0) break;
        if (text.size() + size_t(n) > max_bytes) fail(path, too_large(text.size() + size_t(n), kind, max_bytes));
        text.append(buffer, size_t(n));
    }
    return text;
}

}  // namespace attend
