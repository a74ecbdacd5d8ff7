// core/int64_list.cpp — the heap side of Int64List (attend/int64_list.hpp): only a list of
// more than kInline values gets there.
#include "attend/int64_list.hpp"

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

namespace attend {

int64_t& Int64List::at(size_t i) {
    if (i >= size_) throw std::out_of_range("Int64List::at: index " + std::to_string(i) + " of " + std::to_string(size_));
    return data_[i];
}
const int64_t& Int64List::at(size_t i) const { return const_cast<Int64List*>(this)->at(i); }

void Int64List::grow(size_t n) {
    n = std::max(n, kInline);
    if (n <= capacity_) return;
    auto* bigger = static_cast<int64_t*>(std::malloc(n * sizeof(int64_t)));
    if (bigger == nullptr) throw std::bad_alloc();
    std::copy(data_, data_ + size_, bigger);
    if (on_heap()) std::free(data_);
    data_ = bigger;
    capacity_ = n;
}

void Int64List::release() noexcept {
    if (on_heap()) std::free(data_);
    data_ = inline_;
    size_ = 0;
    capacity_ = kInline;
}

void Int64List::take(Int64List& other) noexcept {
    if (other.on_heap()) {
        data_ = other.data_;
        capacity_ = other.capacity_;
    } else {
        std::copy(other.inline_, other.inline_ + other.size_, inline_);
    }
    size_ = other.size_;
    other.data_ = other.inline_;
    other.size_ = 0;
    other.capacity_ = kInline;
}

}  // namespace attend
