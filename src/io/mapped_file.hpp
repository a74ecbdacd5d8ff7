// io/mapped_file.hpp — a model file's bytes in memory (private to src/io): mapped, or read
// into memory of the process's own (read_file_resident); tensors borrow from either alike.
//
// MAP_PRIVATE with write permission: pages are copy-on-write, so a tensor borrowed from the
// mapping can be updated in place (an optimizer step) and the file never changes. The
// mapping lives as long as the last shared_ptr to it — every borrowed Storage holds one.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attend {

class OpenFile;  // an open regular file (mapped_file.cpp)

class MappedFile {
public:
    // Where the bytes live, so the last handle frees them the right way: an mmap of the file
    // (munmap), or memory make_resident allocated (buffer_pool::fresh_memory, std::free).
    enum class Memory { mapped, allocated };
    MappedFile(void* address, size_t size, Memory memory = Memory::mapped);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    unsigned char* bytes() const { return static_cast<unsigned char*>(address_); }  // null when size() == 0
    size_t size() const { return size_; }

    // Hands the whole pages inside [offset, offset + length) back to the kernel (madvise
    // MADV_DONTNEED): they stop counting as this process's memory. A mapped page touched
    // again is read from the file again, a read one comes back zeroed, and private copies
    // (writes) in the range are dropped: only for bytes no tensor reads any more.
    void release(size_t offset, size_t length) const;

    // Byte ranges [begin, end) of the file.
    using Ranges = std::vector<std::pair<size_t, size_t>>;

    // For a file opened to be read into memory (open_model_file outside LoadOptions::mmap,
    // read_file_resident): reads the bytes of `ranges` into memory of the process's own —
    // buffer_pool::fresh_memory, 2 MiB-aligned on transparent huge pages, by the pool's threads
    // in 2 MiB blocks so each faults in its own pages — and moves bytes() there, dropping the
    // mapping. So a reader validates the file's header from the mapping first (touching only
    // the pages it parses) and reads the rest only once the header has vouched for it: a
    // hostile or corrupt file costs its header, not its size. Bytes outside `ranges` are
    // never read (and never resident: an attend training checkpoint's optimizer state, when
    // only the model is loaded); afterwards they read as whatever the memory held — for a
    // reader that reads nothing else. Call it before anything borrows from bytes(): the address
    // changes. Nothing happens for a plain mapping (map_file, --mmap), for a second call, for
    // no ranges, or when the ranges hold more than the memory available (MemAvailable): the
    // mapping stays, its lazy pages the only way such a file can be used at all. A failed
    // read throws naming the path (a short read too) and leaves the mapping as it was.
    void make_resident(const Ranges& ranges);
    void make_resident() { make_resident({{0, size_}}); }

private:
    friend std::shared_ptr<MappedFile> open_to_read(const std::string& path);
    void* address_;
    size_t size_;
    Memory memory_;
    std::unique_ptr<OpenFile> to_read_;  // the file, open while it waits for make_resident
};

// The bytes [offset, offset + length) of a mapping that one borrowed Storage reads: its owner
// (tensor.hpp). It keeps the mapping alive, and when the last handle to the Storage goes it
// releases its whole pages (MappedFile::release; the pages it shares with a neighbour stay).
// So a tensor a loader read once to re-lay out — GPT-2's Conv1D weights, transposed into
// memory of their own — stops being resident as soon as its copy is made, and a re-laid-out
// model is held once, not twice.
class MappedSpan {
public:
    MappedSpan(std::shared_ptr<MappedFile> file, size_t offset, size_t length)
        : file_(std::move(file)), offset_(offset), length_(length) {}
    ~MappedSpan() { file_->release(offset_, length_); }
    MappedSpan(const MappedSpan&) = delete;
    MappedSpan& operator=(const MappedSpan&) = delete;

    const std::shared_ptr<MappedFile>& file() const { return file_; }

private:
    std::shared_ptr<MappedFile> file_;
    size_t offset_, length_;
};

// Maps the regular file `path` whole. Errors (cannot open, not a regular file, mmap failing)
// name the path.
std::shared_ptr<MappedFile> map_file(const std::string& path);

// A file to be read into memory: mapped (map_file) until a reader calls make_resident.
std::shared_ptr<MappedFile> open_to_read(const std::string& path);

// open_to_read and make_resident of the whole file at once: for a caller with nothing to check first.
std::shared_ptr<MappedFile> read_file_resident(const std::string& path);

// What a model reader calls for its file: map_file, or open_to_read inside a
// ResidentModelFiles scope on this thread — load_model's LoadOptions::mmap = false sets one
// for its duration, so every format's reader (safetensors, GGUF, llama2.c) follows it
// without a flag in each signature; each calls make_resident once it has checked the header
// (a no-op for a mapping). Other files (tokenizers, training text) are always mapped.
std::shared_ptr<MappedFile> open_model_file(const std::string& path);
class ResidentModelFiles {
public:
    explicit ResidentModelFiles(bool resident);
    ~ResidentModelFiles();
    ResidentModelFiles(const ResidentModelFiles&) = delete;
    ResidentModelFiles& operator=(const ResidentModelFiles&) = delete;

private:
    bool previous_;
};

}  // namespace attend
