// core/atomic_file.cpp — temporary file (O_EXCL, unguessable name), fsync, rename, fsync the
// folder (see atomic_file.hpp). Self-contained: the fuzz targets link it alone.
#include "core/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "attend/error.hpp"

namespace attend {

namespace {

std::string folder_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// 64 random bits for a temporary's name: getrandom, or (where it is unavailable) the clock
// mixed with a counter — O_EXCL keeps even a guessed name safe; the randomness only keeps a
// planted file from blocking every attempt.
uint64_t random_bits() {
    uint64_t r = 0;
    if (::getrandom(&r, sizeof r, GRND_NONBLOCK) == ssize_t(sizeof r)) return r;
    static uint64_t counter = 0;
    r = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^ (++counter * 0x9E3779B97F4A7C15ull);
    return r * 0xBF58476D1CE4E5B9ull;
}

// Creates the temporary beside `path` with O_EXCL: a name that exists (a leftover, a planted
// symlink) is never opened; another is drawn.
int create_temporary(const std::string& path, std::string& tmp) {
    int error = 0;
    for (int attempt = 0; attempt < 16; ++attempt) {
        char suffix[40];
        std::snprintf(suffix, sizeof suffix, ".tmp.%ld.%016llx", long(::getpid()), (unsigned long long)random_bits());
        tmp = path + suffix;
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) return fd;
        error = errno;
        if (error != EEXIST) break;
    }
    ATTEND_CHECK(false, path, ": cannot create the temporary file ", tmp, ": ", std::strerror(error));
}

// The pid in a temporary's name "<name>.tmp.<pid>" or "<name>.tmp.<pid>.<hex>", or -1 when
// the name is not one of ours.
long temporary_pid(const std::string& name) {
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) return -1;
    const std::string rest = name.substr(at + 5);
    const size_t dot = rest.find('.');
    const std::string pid = rest.substr(0, dot);
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) return -1;
    if (dot != std::string::npos) {
        const std::string hex = rest.substr(dot + 1);
        if (hex.empty() || hex.size() > 16 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) return -1;
    }
    return std::stol(pid);
}

}  // namespace

void fsync_folder(const std::string& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ATTEND_CHECK(fd >= 0, folder, ": cannot open the folder to sync it: ", std::strerror(errno));
    const int rc = ::fsync(fd), error = errno;
    ::close(fd);
    ATTEND_CHECK(rc == 0 || error == EINVAL, folder, ": cannot sync the folder: ", std::strerror(error));
}

void write_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write) {
    std::string tmp;
    const int fd = create_temporary(path, tmp);
    std::FILE* f = ::fdopen(fd, "wb");
    if (f == nullptr) {
        const int error = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        ATTEND_CHECK(false, path, ": cannot write the file: ", std::strerror(error));
    }
    bool ok = false;
    try {
        ok = write(f);
    } catch (...) {
        std::fclose(f);
        ::unlink(tmp.c_str());
        throw;
    }
    // The errno of the first step that failed: write, flush/fsync, close or rename.
    int error = ok ? 0 : errno;
    if (ok && (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0)) ok = false, error = errno;
    if (std::fclose(f) != 0 && ok) ok = false, error = errno;
    if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) {
        fsync_folder(folder_of(path));  // the rename is durable only once the folder is
        return;
    }
    if (ok) error = errno;
    ::unlink(tmp.c_str());
    ATTEND_CHECK(false, path, ": cannot write the file: ", std::strerror(error ? error : EIO));
}

void write_text_atomically(const std::string& path, std::string_view text) {
    write_atomically(path, [&](std::FILE* f) { return std::fwrite(text.data(), 1, text.size(), f) == text.size(); });
}

int remove_stale_temporaries(const std::string& folder) {
    DIR* dir = ::opendir(folder.c_str());
    if (dir == nullptr) return 0;
    int removed = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        const long pid = temporary_pid(name);
        if (pid <= 0) continue;
        // Alive (or not ours to signal): it may be writing right now.
        if (pid == long(::getpid()) || ::kill(pid_t(pid), 0) == 0 || errno == EPERM) continue;
        const std::string path = folder + "/" + name;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // only plain files
        removed += ::unlink(path.c_str()) == 0;
    }
    ::closedir(dir);
    if (removed > 0) fsync_folder(folder);
    return removed;
}

}  // namespace attend
