// io/mapped_file.cpp — a whole file mapped, or read into memory of our own; released with the last handle.
#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "attend/error.hpp"
#include "core/buffer_pool.hpp"
#include "core/parallel_loop.hpp"

namespace attend {

MappedFile::~MappedFile() {
    if (!address_) return;
    if (memory_ == Memory::mapped) ::munmap(address_, size_);
    else std::free(address_);
}

void MappedFile::release(size_t offset, size_t length) const {
    if (!address_ || offset >= size_) return;
    const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE)), at = reinterpret_cast<uintptr_t>(bytes());
    const size_t end = std::min(size_, offset + length);
    // Whole pages only: the ones at either end may hold a neighbour's bytes. Rounded on the
    // addresses themselves, since read memory of under 2 MiB need not start on a page.
    const uintptr_t first = (at + offset + page - 1) / page * page, last = (at + end) / page * page;
    // Advice, not a requirement: on failure the pages merely stay resident.
    if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// An open regular file and its size; closed with the handle. The Error names the path.
class OpenFile {
public:
    explicit OpenFile(const std::string& path) : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        const std::string problem = ::fstat(fd_, &st) != 0 ? std::string("cannot stat: ") + std::strerror(errno)
                                    : !S_ISREG(st.st_mode) ? "not a regular file"
                                                            : "";
        if (!problem.empty()) {
            ::close(fd_);  // no destructor runs for a constructor that throws
            fail(problem);
        }
        size_ = size_t(st.st_size);
    }
    ~OpenFile() { ::close(fd_); }
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;
    [[noreturn]] void fail(const std::string& problem) const { throw Error(path_ + ": " + problem); }
    int fd() const { return fd_; }
    size_t size() const { return size_; }

private:
    std::string path_;
    int fd_;
    size_t size_ = 0;
};

std::shared_ptr<MappedFile> map_open_file(const OpenFile& file) {
    if (file.size() == 0) return std::make_shared<MappedFile>(nullptr, 0);
    void* address = ::mmap(nullptr, file.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE, file.fd(), 0);
    if (address == MAP_FAILED) file.fail("cannot map " + std::to_string(file.size()) + " bytes: " + std::strerror(errno));
    return std::make_shared<MappedFile>(address, file.size());  // the mapping keeps the file itself alive
}

// /proc/meminfo's MemAvailable in bytes, or 0 when it cannot be read.
size_t memory_available() {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("MemAvailable:", 0) == 0) {
            std::istringstream fields(line.substr(13));
            size_t kib = 0;
            fields >> kib;
            return kib * 1024;
        }
    return 0;
}

thread_local bool t_resident_model_files = false;

}  // namespace

std::shared_ptr<MappedFile> map_file(const std::string& path) { return map_open_file(OpenFile(path)); }

std::shared_ptr<MappedFile> read_file_resident(const std::string& path) {
    const OpenFile file(path);
    const size_t size = file.size();
    if (size == 0 || size > memory_available()) return map_open_file(file);  // nothing to read, or more than fits
    // 2 MiB-aligned with huge pages asked for where it is that large (core/buffer_pool.hpp).
    void* address = buffer_pool::fresh_memory(size);
    if (!address) file.fail("cannot allocate " + std::to_string(size) + " bytes to read it into");
    auto memory = std::make_shared<MappedFile>(address, size, MappedFile::Memory::allocated);  // freed if the read fails
    // Each thread reads whole 2 MiB blocks, so the pages it faults in are its own.
    const int64_t blocks = int64_t((size + kHugePage - 1) / kHugePage);
    std::atomic<int> failure{0};  // errno of a failed read, or -1: the file ended early (no throw inside the loop)
    parallel_loop(blocks, int64_t(size / 4), [&](int64_t b) {
        size_t at = size_t(b) * kHugePage;
        const size_t end = std::min(size, at + kHugePage);
        while (at < end && failure.load(std::memory_order_relaxed) == 0) {
            const ssize_t got = ::pread(file.fd(), memory->bytes() + at, end - at, off_t(at));
            if (got > 0) at += size_t(got);
            else if (got < 0 && errno == EINTR) continue;
            else failure.store(got < 0 ? errno : -1);
        }
    });
    if (const int err = failure.load(); err != 0)
        file.fail(err > 0 ? std::string("cannot read: ") + std::strerror(err)
                          : "ended before its " + std::to_string(size) + " bytes while being read (changed meanwhile?)");
    return memory;
}

std::shared_ptr<MappedFile> open_model_file(const std::string& path) {
    return t_resident_model_files ? read_file_resident(path) : map_file(path);
}

ResidentModelFiles::ResidentModelFiles(bool resident) : previous_(t_resident_model_files) {
    t_resident_model_files = resident;
}
ResidentModelFiles::~ResidentModelFiles() { t_resident_model_files = previous_; }

}  // namespace attend
