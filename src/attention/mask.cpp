// attention/mask.cpp — validating an AttentionMask against (B, H, Tq, Tk).
#include "attention/mask.hpp"

#include "attend/error.hpp"

namespace attend {

MaskPlan::MaskPlan(const AttentionMask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk)
    : B_(B), H_(H), Tq_(Tq), Tk_(Tk), query_offset_(Tk - Tq), causal_(mask.causal), window_(mask.window),
      key_lengths_(mask.key_lengths), query_offsets_(mask.query_offsets) {
    ATTEND_CHECK(!causal_ || Tq <= Tk || !query_offsets_.empty(),
                 "a causal mask needs at least as many keys as queries, got Tq=", Tq, " Tk=", Tk);
    if (!query_offsets_.empty()) {
        ATTEND_CHECK(int64_t(query_offsets_.size()) == B, "query_offsets has ", query_offsets_.size(),
                     " entries for a batch of ", B);
        for (size_t b = 0; b < query_offsets_.size(); ++b)
            ATTEND_CHECK(query_offsets_[b] >= 0 && query_offsets_[b] <= Tk, "query_offsets[", b, "] = ",
                         query_offsets_[b], " is outside [0, ", Tk, "]");
    }
    if (!key_lengths_.empty()) {
        ATTEND_CHECK(int64_t(key_lengths_.size()) == B, "key_lengths has ", key_lengths_.size(),
                     " entries for a batch of ", B);
        for (size_t b = 0; b < key_lengths_.size(); ++b)
            ATTEND_CHECK(key_lengths_[b] >= 0 && key_lengths_[b] <= Tk, "key_lengths[", b, "] = ", key_lengths_[b],
                         " is outside [0, ", Tk, "]");
    }
    if (mask.bool_mask.defined()) bool_data_ = bind(mask.bool_mask, "bool_mask", bool_keep_, bool_strides_);
    if (mask.additive_mask.defined()) add_data_ = bind(mask.additive_mask, "additive_mask", add_keep_, add_strides_);
}

const float* MaskPlan::bind(const Tensor& m, const char* what, Tensor& keep, Strides4& strides) const {
    const Shape target{B_, H_, Tq_, Tk_};
    ATTEND_CHECK(m.dim() <= 4, what, " has shape ", to_string(m.shape()), "; it must broadcast to (B, H, Tq, Tk) = ",
                 to_string(target));
    keep = m.detach().contiguous();
    const Shape cs = contiguous_strides(keep.shape());
    const int64_t pad = 4 - keep.dim();
    for (int64_t d = 0; d < 4; ++d) {
        const int64_t size = d < pad ? 1 : keep.shape()[d - pad];
        ATTEND_CHECK(size == 1 || size == target[d], what, " has shape ", to_string(m.shape()),
                     "; it must broadcast to (B, H, Tq, Tk) = ", to_string(target));
        strides[d] = (d < pad || size == 1) ? 0 : cs[d - pad];
    }
    return keep.data();
}

}  // namespace attend
