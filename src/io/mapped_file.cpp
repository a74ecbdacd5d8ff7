// io/mapped_file.cpp — mmap of a whole file, released with the last handle.
#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "attend/error.hpp"

namespace attend {

MappedFile::~MappedFile() {
    if (address_) ::munmap(address_, size_);
}

void MappedFile::release(size_t offset, size_t length) const {
    if (!address_ || offset >= size_) return;
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    const size_t end = std::min(size_, offset + length);
    // Whole pages only: the ones at either end may hold a neighbour's bytes. The mapping
    // starts on a page boundary, so offsets within it are page offsets too.
    const size_t first = (offset + page - 1) / page * page, last = end / page * page;
    // Advice, not a requirement: on failure the pages merely stay resident.
    if (first < last) ::madvise(bytes() + first, last - first, MADV_DONTNEED);
}

std::shared_ptr<MappedFile> map_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0) problem = std::string("cannot stat: ") + std::strerror(errno);
    else if (!S_ISREG(st.st_mode)) problem = "not a regular file";
    void* address = nullptr;
    const size_t size = problem.empty() ? size_t(st.st_size) : 0;
    if (problem.empty() && size > 0) {
        address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (address == MAP_FAILED) {
            address = nullptr;
            problem = "cannot map " + std::to_string(size) + " bytes: " + std::strerror(errno);
        }
    }
    ::close(fd);  // the mapping keeps the file itself alive
    if (!problem.empty()) throw Error(path + ": " + problem);
    return std::make_shared<MappedFile>(address, size);
}

}  // namespace attend
