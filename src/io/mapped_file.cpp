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

MappedFile::MappedFile(void* address, size_t size, Memory memory)
    : address_(address), size_(size), memory_(memory) {}

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

std::shared_ptr<MappedFile> open_to_read(const std::string& path) {
    auto file = std::make_unique<OpenFile>(path);
    std::shared_ptr<MappedFile> mapping = map_open_file(*file);
    if (mapping->size() > 0) mapping->to_read_ = std::move(file);
    return mapping;
}

void MappedFile::make_resident(const Ranges& ranges) {
    // The file, closed when this returns: a plain mapping, or one read already, has none.
    const std::unique_ptr<OpenFile> file = std::move(to_read_);
    if (!file) return;
    // The blocks to read: every range cut at the file's 2 MiB boundaries, so each block lies
    // in one huge page of the memory below and the thread that reads it faults it in alone.
    // Touching ranges are joined first, so a block boundary falls inside a range only there.
    Ranges joined = ranges;
    std::sort(joined.begin(), joined.end());
    size_t kept = 0;
    for (const auto& r : joined)
        if (kept > 0 && r.first <= joined[kept - 1].second) joined[kept - 1].second = std::max(joined[kept - 1].second, r.second);
        else joined[kept++] = r;
    joined.resize(kept);
    Ranges blocks;
    size_t total = 0;
    for (auto [begin, end] : joined) {
        end = std::min(end, size_);
        for (size_t at = begin; at < end;) {
            const size_t stop = std::min(end, (at / kHugePage + 1) * kHugePage);
            blocks.emplace_back(at, stop);
            total += stop - at;
            at = stop;
        }
    }
    if (blocks.empty() || total > memory_available()) return;  // nothing to read, or more than fits: stay mapped
    // 2 MiB-aligned with huge pages asked for where it is that large (core/buffer_pool.hpp).
    std::unique_ptr<void, void (*)(void*)> memory(buffer_pool::fresh_memory(size_), std::free);
    if (!memory) file->fail("cannot allocate " + std::to_string(size_) + " bytes to read it into");
    unsigned char* into = static_cast<unsigned char*>(memory.get());
    std::atomic<int> failure{0};  // errno of a failed read, or -1: the file ended early (no throw inside the loop)
    parallel_loop(int64_t(blocks.size()), int64_t(total / 4), [&](int64_t b) {
        auto [at, end] = blocks[size_t(b)];
        while (at < end && failure.load(std::memory_order_relaxed) == 0) {
            const ssize_t got = ::pread(file->fd(), into + at, end - at, off_t(at));
            if (got > 0) at += size_t(got);
            else if (got < 0 && errno == EINTR) continue;
            else failure.store(got < 0 ? errno : -1);
        }
    });
    if (const int err = failure.load(); err != 0)
        file->fail(err > 0 ? std::string("cannot read: ") + std::strerror(err)
                           : "ended before its " + std::to_string(size_) + " bytes while being read (changed meanwhile?)");
    ::munmap(address_, size_);
    address_ = memory.release();
    memory_ = Memory::allocated;
}

std::shared_ptr<MappedFile> read_file_resident(const std::string& path) {
    std::shared_ptr<MappedFile> file = open_to_read(path);
    file->make_resident();
    return file;
}

std::shared_ptr<MappedFile> open_model_file(const std::string& path) {
    return t_resident_model_files ? open_to_read(path) : map_file(path);
}

ResidentModelFiles::ResidentModelFiles(bool resident) : previous_(t_resident_model_files) {
    t_resident_model_files = resident;
}
ResidentModelFiles::~ResidentModelFiles() { t_resident_model_files = previous_; }

}  // namespace attend
