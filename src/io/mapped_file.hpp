// io/mapped_file.hpp — a model file mapped into memory (private to src/io).
//
// MAP_PRIVATE with write permission: pages are copy-on-write, so a tensor borrowed from the
// mapping can be updated in place (an optimizer step) and the file never changes. The
// mapping lives as long as the last shared_ptr to it — every borrowed Storage holds one.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace attend {

class MappedFile {
public:
    MappedFile(void* address, size_t size) : address_(address), size_(size) {}
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    unsigned char* bytes() const { return static_cast<unsigned char*>(address_); }  // null when size() == 0
    size_t size() const { return size_; }

private:
    void* address_;
    size_t size_;
};

// Maps the regular file `path` whole. Errors (cannot open, not a regular file, mmap failing)
// name the path.
std::shared_ptr<MappedFile> map_file(const std::string& path);

}  // namespace attend
