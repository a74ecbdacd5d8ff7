// attention/mask.hpp — an AttentionMask checked against the call's shapes and turned into
// the two questions both attention paths ask (private to the library):
//   1. which contiguous range of keys may query i of sequence b see at all?  (causal,
//      sliding window, key padding: this is what lets the fused kernel skip whole tiles)
//   2. inside that range, what is added to score (b, h, i, j)?  (0, an additive value, or
//      -inf where the boolean mask says no)
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

#include "attend/attention.hpp"

namespace attend {

struct KeyRange {
    int64_t begin = 0, end = 0;  // [begin, end); empty when begin >= end
    bool empty() const { return begin >= end; }
};

class MaskPlan {
public:
    MaskPlan(const AttentionMask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk);

    // Keys allowed by causal / window / key_lengths for query i (0-based within Tq) of batch b.
    KeyRange key_range(int64_t b, int64_t i) const {
        const int64_t position = i + (query_offsets_.empty() ? query_offset_ : query_offsets_[b]);  // of the query
        int64_t begin = 0, end = key_lengths_.empty() ? Tk_ : key_lengths_[b];
        if (causal_) end = std::min(end, position + 1);
        if (window_ >= 0) {
            begin = std::max<int64_t>(begin, position - window_);
            end = std::min(end, position + window_ + 1);
        }
        return {std::max<int64_t>(begin, 0), std::max<int64_t>(std::min(end, Tk_), 0)};
    }

    // True when bool_mask or additive_mask is present (scores need bias()).
    bool has_elementwise() const { return bool_data_ != nullptr || add_data_ != nullptr; }

    // Added to score (b, h, i, j) for j inside key_range(b, i): 0, the additive value, or -inf.
    float bias(int64_t b, int64_t h, int64_t i, int64_t j) const {
        float value = 0.f;
        if (bool_data_ && bool_data_[offset(bool_strides_, b, h, i, j)] == 0.f) return -INFINITY;
        if (add_data_) value = add_data_[offset(add_strides_, b, h, i, j)];
        return value;
    }

private:
    using Strides4 = std::array<int64_t, 4>;
    static int64_t offset(const Strides4& s, int64_t b, int64_t h, int64_t i, int64_t j) {
        return b * s[0] + h * s[1] + i * s[2] + j * s[3];
    }
    // A mask tensor seen as (B, H, Tq, Tk) with stride 0 on broadcast dims.
    const float* bind(const Tensor& m, const char* what, Tensor& keep, Strides4& strides) const;

    int64_t B_, H_, Tq_, Tk_, query_offset_;
    bool causal_;
    int64_t window_;
    Int64List key_lengths_;
    Int64List query_offsets_;
    Tensor bool_keep_, add_keep_;  // contiguous copies kept alive
    const float* bool_data_ = nullptr;
    const float* add_data_ = nullptr;
    Strides4 bool_strides_{}, add_strides_{};
};

}  // namespace attend
