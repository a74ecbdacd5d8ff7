// Int64List (attend/int64_list.hpp): std::vector's behaviour, inline up to kInline values and
// on the heap past that, across copies, moves, inserts and erases.
#include <gtest/gtest.h>

#include <numeric>
#include <utility>
#include <vector>

#include "attend/int64_list.hpp"

namespace attend {
namespace {

constexpr size_t kInline = Int64List::kInline;

std::vector<int64_t> iota_of(size_t n, int64_t first = 1) {
    std::vector<int64_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

bool is_inline(const Int64List& l) {  // the values lie inside the object
    const auto* p = reinterpret_cast<const char*>(l.data());
    const auto* self = reinterpret_cast<const char*>(&l);
    return p >= self && p < self + sizeof(Int64List);
}

TEST(Int64List, HoldsUpToItsInlineCapacityInPlaceAndMoreOnTheHeap) {
    Int64List l;
    for (size_t n = 0; n < 3 * kInline; ++n) {
        EXPECT_EQ(is_inline(l), n <= kInline) << n;
        EXPECT_EQ(std::vector<int64_t>(l), iota_of(n));
        l.push_back(int64_t(n + 1));
    }
    EXPECT_EQ(l.size(), 3 * kInline);
    while (!l.empty()) l.pop_back();
    EXPECT_TRUE(l.empty());
}

TEST(Int64List, CopiesAndMovesKeepTheValuesEitherSideOfTheInlineCapacity) {
    for (const size_t n : {size_t(0), size_t(2), kInline, kInline + 1, 4 * kInline}) {
        SCOPED_TRACE(n);
        const std::vector<int64_t> values = iota_of(n, 10);
        const Int64List original(values.begin(), values.end());
        Int64List copy = original;
        EXPECT_EQ(copy, original);
        EXPECT_NE(copy.data(), original.data());
        Int64List moved = std::move(copy);
        EXPECT_EQ(std::vector<int64_t>(moved), values);
        EXPECT_TRUE(copy.empty());  // NOLINT: a moved-from list is empty, and usable
        copy.push_back(7);
        EXPECT_EQ(std::vector<int64_t>(copy), std::vector<int64_t>{7});
        // Assignment over a list of the other kind (inline over heap and heap over inline).
        Int64List small = {1, 2}, big(values.begin(), values.end());
        big.resize(5 * kInline, 3);
        small = big;
        EXPECT_EQ(small, big);
        big = original;
        EXPECT_EQ(big, original);
        small = std::move(big);
        EXPECT_EQ(small, original);
        small = small;  // NOLINT: self-assignment keeps the values
        EXPECT_EQ(small, original);
        small.swap(copy);
        EXPECT_EQ(copy, original);
        EXPECT_EQ(std::vector<int64_t>(small), std::vector<int64_t>{7});
    }
}

TEST(Int64List, InsertAndEraseAsAVectorDoes) {
    std::vector<int64_t> expected = iota_of(kInline - 1);
    Int64List l(expected.begin(), expected.end());
    const std::vector<int64_t> more = {100, 101, 102};
    // Into the middle, past the inline capacity on the way.
    l.insert(l.begin() + 2, more.begin(), more.end());
    expected.insert(expected.begin() + 2, more.begin(), more.end());
    EXPECT_EQ(std::vector<int64_t>(l), expected);
    l.insert(l.end(), -1);
    expected.insert(expected.end(), -1);
    l.insert(l.begin(), {-2, -3});
    expected.insert(expected.begin(), {-2, -3});
    EXPECT_EQ(std::vector<int64_t>(l), expected);
    l.erase(l.begin() + 1);
    expected.erase(expected.begin() + 1);
    l.erase(l.begin() + 3, l.begin() + 6);
    expected.erase(expected.begin() + 3, expected.begin() + 6);
    EXPECT_EQ(std::vector<int64_t>(l), expected);
    l.resize(2);
    expected.resize(2);
    l.resize(4, 9);
    expected.resize(4, 9);
    EXPECT_EQ(std::vector<int64_t>(l), expected);
    EXPECT_EQ(std::vector<int64_t>(l.rbegin(), l.rend()), std::vector<int64_t>(expected.rbegin(), expected.rend()));
    EXPECT_EQ(l.front(), expected.front());
    EXPECT_EQ(l.back(), expected.back());
    EXPECT_THROW(l.at(4), std::out_of_range);
}

TEST(Int64List, ComparesAndConvertsAsAVector) {
    const Int64List a = {1, 2, 3}, b = {1, 2, 4}, prefix = {1, 2};
    EXPECT_EQ(a, (std::vector<int64_t>{1, 2, 3}));
    EXPECT_NE(a, b);
    EXPECT_LT(a, b);
    EXPECT_LT(prefix, a);
    const std::vector<int64_t> v = a;
    EXPECT_EQ(v, (std::vector<int64_t>{1, 2, 3}));
    const Int64List sized(4), filled(3, -1);
    EXPECT_EQ(std::vector<int64_t>(sized), (std::vector<int64_t>{0, 0, 0, 0}));
    EXPECT_EQ(std::vector<int64_t>(filled), (std::vector<int64_t>{-1, -1, -1}));
}

}  // namespace
}  // namespace attend
