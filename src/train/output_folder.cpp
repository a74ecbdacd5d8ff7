// train/output_folder.cpp — lock, refuse, clean and take back a training run's folder (see
// train/output_folder.hpp).
#include "train/output_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "attend/error.hpp"
#include "core/require.hpp"
#include "core/atomic_file.hpp"

namespace attend {

namespace fs = std::filesystem;

namespace {

// The pid holding a flock on the file open as `fd`, from /proc/locks
// ("1: FLOCK  ADVISORY  WRITE 4242 fe:00:10953964 0 EOF": pid, then major:minor:inode with
// the device numbers in hex); -1 when it cannot be told.
long flock_holder(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return -1;
    std::ifstream locks("/proc/locks");
    for (std::string line; std::getline(locks, line);) {
        std::istringstream words(line);
        std::string id, kind, mode, access, pid, where;
        if (!(words >> id >> kind) || kind != "FLOCK") continue;  // "->" lines are waiters
        if (!(words >> mode >> access >> pid >> where)) continue;
        unsigned major_no = 0, minor_no = 0;
        unsigned long long inode = 0;
        if (std::sscanf(where.c_str(), "%x:%x:%llu", &major_no, &minor_no, &inode) != 3) continue;
        if (major_no == major(st.st_dev) && minor_no == minor(st.st_dev) && inode == st.st_ino)
            return std::strtol(pid.c_str(), nullptr, 10);
    }
    return -1;
}

std::set<std::string> entries_of(const std::string& path) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(path, ec)) names.insert(entry.path().filename().string());
    return names;
}

}  // namespace

const std::vector<std::string>& OutputFolder::run_files() {
    // trainer.hpp's output folder, and the tokenizer names copy_tokenizer_files and a
    // character vocabulary write.
    static const std::vector<std::string> names = {
        "checkpoint.safetensors", "model.safetensors", "config.json", "loss.csv", "loss.png", "tokenizer.json",
        "vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json", "tokenizer.bin"};
    return names;
}

OutputFolder::OutputFolder(const std::string& path) : path_(path) {
    require(!path.empty(), "no output folder (--out)");
    std::error_code ec;
    // The folders this run creates, deepest first, so that a failed start can take them back.
    for (fs::path p = fs::absolute(path, ec); !p.empty() && !fs::exists(fs::symlink_status(p, ec)); p = p.parent_path()) {
        created_.push_back(p.string());
        if (p == p.parent_path()) break;
    }
    fs::create_directories(path, ec);
    require(!ec, "--out ", path, ": cannot create the folder: ", ec.message());
    fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    require(fd_ >= 0, "--out ", path, ": ",
                 errno == ENOTDIR ? std::string("not a folder") : std::string("cannot open: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const long holder = error == EWOULDBLOCK ? flock_holder(fd_) : -1;
        ::close(fd_);
        fd_ = -1;
        require(error != EWOULDBLOCK, "--out ", path, " is in use by another training run (pid ",
                     holder > 0 ? std::to_string(holder) : std::string("unknown"),
                     "): wait for it to end, or choose another --out");
        require(false, "--out ", path, ": cannot lock the folder: ", std::strerror(error));
    }
    remove_stale_temporaries(path);
}

OutputFolder::~OutputFolder() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

void OutputFolder::claim_for_fresh_run(bool overwrite) {
    std::string present;
    std::error_code ec;
    for (const std::string& name : run_files())
        if (fs::exists(fs::symlink_status(fs::path(path_) / name, ec))) present += (present.empty() ? "" : ", ") + name;
    if (!present.empty()) {
        require(overwrite, "--out ", path_, " already holds a training run (", present,
                     "): pass --resume to continue it, or --overwrite to replace it");
        for (const std::string& name : run_files()) fs::remove(fs::path(path_) / name, ec);
        fsync_folder(path_);
    }
    before_ = entries_of(path_);
}

void OutputFolder::discard_additions() noexcept {
    try {
        std::error_code ec;
        for (const std::string& name : entries_of(path_))
            if (!before_.count(name)) fs::remove_all(fs::path(path_) / name, ec);
        for (const std::string& dir : created_) fs::remove(dir, ec);  // only when empty
    } catch (...) {
    }
}

}  // namespace attend
