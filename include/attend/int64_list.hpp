// int64_list.hpp — a short list of int64 held inline: a tensor's sizes and strides (Int64List,
// attend/tensor.hpp), an attention mask's per-sequence lengths and offsets.
//
// Every tensor carries a shape and strides, and every op builds a few more (its output's
// shape, the contiguous strides, a broadcast); a decoding step copies its mask to each layer.
// As std::vector each was a heap allocation: a GPT-2-small decode step made ~2,300
// allocations under 256 B, nearly all of them these (heaptrack). An Int64List keeps up to
// kInline values in the object itself and goes to the heap only past that (no tensor here
// has that many dimensions; a batch of more sequences does). Its interface is
// std::vector's, so code reads the same, and it converts to and from std::vector<int64_t>
// where one is wanted.
#pragma once
#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <vector>

namespace attend {

class Int64List {
public:
    static constexpr size_t kInline = 8;  // (B, H, T, D) and more; a batch of 8 sequences

    using value_type = int64_t;
    using size_type = size_t;
    using difference_type = std::ptrdiff_t;
    using reference = int64_t&;
    using const_reference = const int64_t&;
    using pointer = int64_t*;
    using const_pointer = const int64_t*;
    using iterator = int64_t*;
    using const_iterator = const int64_t*;
    using reverse_iterator = std::reverse_iterator<iterator>;
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;

    Int64List() noexcept = default;
    explicit Int64List(size_t n, int64_t value = 0) { assign(n, value); }
    Int64List(std::initializer_list<int64_t> values) { assign(values.begin(), values.end()); }
    template <std::input_iterator It>
    Int64List(It first, It last) { assign(first, last); }
    Int64List(const std::vector<int64_t>& values) { assign(values.begin(), values.end()); }  // NOLINT: implicit
    operator std::vector<int64_t>() const { return std::vector<int64_t>(begin(), end()); }  // NOLINT: implicit

    Int64List(const Int64List& other) { assign(other.begin(), other.end()); }
    Int64List(Int64List&& other) noexcept { take(other); }
    Int64List& operator=(const Int64List& other) {
        if (this != &other) assign(other.begin(), other.end());
        return *this;
    }
    Int64List& operator=(Int64List&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }
    Int64List& operator=(std::initializer_list<int64_t> values) {
        assign(values.begin(), values.end());
        return *this;
    }
    ~Int64List() { release(); }

    // ---- size and access ----
    size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    size_t capacity() const noexcept { return capacity_; }
    int64_t* data() noexcept { return data_; }
    const int64_t* data() const noexcept { return data_; }
    int64_t& operator[](size_t i) noexcept { return data_[i]; }
    const int64_t& operator[](size_t i) const noexcept { return data_[i]; }
    int64_t& at(size_t i);
    const int64_t& at(size_t i) const;
    int64_t& front() noexcept { return data_[0]; }
    const int64_t& front() const noexcept { return data_[0]; }
    int64_t& back() noexcept { return data_[size_ - 1]; }
    const int64_t& back() const noexcept { return data_[size_ - 1]; }

    iterator begin() noexcept { return data_; }
    iterator end() noexcept { return data_ + size_; }
    const_iterator begin() const noexcept { return data_; }
    const_iterator end() const noexcept { return data_ + size_; }
    const_iterator cbegin() const noexcept { return data_; }
    const_iterator cend() const noexcept { return data_ + size_; }
    reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
    reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
    const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
    const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

    // ---- changes ----
    void reserve(size_t n) {
        if (n > capacity_) grow(n);
    }
    void clear() noexcept { size_ = 0; }
    void resize(size_t n, int64_t value = 0) {
        reserve(n);
        std::fill(data_ + std::min(n, size_), data_ + n, value);
        size_ = n;
    }
    void assign(size_t n, int64_t value) {
        size_ = 0;
        resize(n, value);
    }
    template <std::input_iterator It>
    void assign(It first, It last) {
        size_ = 0;
        for (; first != last; ++first) push_back(int64_t(*first));
    }
    void push_back(int64_t value) {
        if (size_ == capacity_) grow(capacity_ * 2);
        data_[size_++] = value;
    }
    int64_t& emplace_back(int64_t value) {
        push_back(value);
        return back();
    }
    void pop_back() noexcept { --size_; }
    iterator insert(const_iterator pos, int64_t value) { return insert(pos, &value, &value + 1); }
    iterator insert(const_iterator pos, std::initializer_list<int64_t> values) {
        return insert(pos, values.begin(), values.end());
    }
    // Inserts [first, last) before pos; the range may not lie in this Int64List.
    template <std::forward_iterator It>
    iterator insert(const_iterator pos, It first, It last) {
        const size_t at = size_t(pos - data_), n = size_t(std::distance(first, last));
        reserve(size_ + n);
        std::move_backward(data_ + at, data_ + size_, data_ + size_ + n);
        std::copy(first, last, data_ + at);
        size_ += n;
        return data_ + at;
    }
    iterator erase(const_iterator pos) { return erase(pos, pos + 1); }
    iterator erase(const_iterator first, const_iterator last) {
        const size_t at = size_t(first - data_), n = size_t(last - first);
        std::copy(data_ + at + n, data_ + size_, data_ + at);
        size_ -= n;
        return data_ + at;
    }
    void swap(Int64List& other) noexcept {
        Int64List t(std::move(other));
        other = std::move(*this);
        *this = std::move(t);
    }

    friend bool operator==(const Int64List& a, const Int64List& b) noexcept {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }
    friend std::strong_ordering operator<=>(const Int64List& a, const Int64List& b) noexcept {
        return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end());
    }

private:
    bool on_heap() const noexcept { return data_ != inline_; }
    void grow(size_t n);       // capacity ≥ n (and ≥ kInline), contents kept
    void release() noexcept;   // frees a heap buffer and goes back to the inline one, empty
    void take(Int64List& other) noexcept;  // moves other's contents here (this is empty, inline)

    int64_t inline_[kInline];
    int64_t* data_ = inline_;
    size_t size_ = 0;
    size_t capacity_ = kInline;
};

}  // namespace attend
