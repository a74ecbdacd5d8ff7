// low_precision.hpp — weight matrices kept in bf16 or int8, for inference.
//
// Decoding reads every weight once per token, so its speed is the weights' size in bytes:
// bf16 halves it, int8 (with one float scale per block of 32 values of a row, as GGUF's
// Q8_0) takes it to 1.125 bytes a weight. Arithmetic stays fp32: the kernels widen weights
// in registers (ops/gemv.cpp) or in row blocks before a GEMM (ops/matmul.cpp).
//
//   bf16   the top 16 bits of the fp32 value, rounded to nearest even (NaN stays NaN)
//   int8   for row n and block c (columns [32c, 32c + 32), the last block may be shorter):
//          s = max|w| / 127,  q = round(w / s) in [−127, 127],  w ≈ s · q  (error ≤ s / 2)
//
// A parameter converted to low precision keeps its shape and its place in the model, but its
// Storage holds no fp32 values: Tensor::data() on it is an Error, and only linear() and
// embedding() read it (through Tensor::low_precision()). Such a model runs inference;
// training it is an Error (the optimizer needs fp32 values).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "attend/tensor.hpp"

namespace attend {

enum class WeightType { f32, bf16, int8 };
const char* name_of(WeightType type);                   // "f32", "bf16", "int8"
WeightType parse_weight_type(const std::string& name);  // Error naming the accepted ones

// fp32 ↔ bf16 (round to nearest even).
uint16_t to_bf16(float x);
void to_bf16(const float* x, int64_t n, uint16_t* out);  // n values at once (vectorised)
inline float from_bf16(uint16_t h) {
    const uint32_t bits = uint32_t(h) << 16;
    float x;
    __builtin_memcpy(&x, &bits, sizeof x);
    return x;
}

class LowPrecisionMatrix {
public:
    static constexpr int64_t kBlock = 32;  // int8: columns per scale

    // Rounds an fp32 (rows, cols) matrix to `type` (bf16 or int8).
    static std::shared_ptr<const LowPrecisionMatrix> quantize(const Tensor& w, WeightType type);
    // The same, written into `memory` (storage_bytes(rows, cols, type) bytes, 64-byte aligned:
    // the values, then int8's scales, each part whole cache lines), which `owner` keeps alive.
    // Transformer::convert_weights puts all of a model's matrices in one block this way.
    static std::shared_ptr<const LowPrecisionMatrix> quantize(const Tensor& w, WeightType type, void* memory,
                                                              std::shared_ptr<void> owner);
    static int64_t storage_bytes(int64_t rows, int64_t cols, WeightType type);
    // Takes stored values as they are (a file's): rows·cols bf16 values, or rows·cols int8
    // values with rows·blocks_per_row scales. `owner` keeps the memory alive (may be null
    // when the vectors' copies are wanted: the values are then copied).
    static std::shared_ptr<const LowPrecisionMatrix> adopt_bf16(int64_t rows, int64_t cols, const uint16_t* values,
                                                                std::shared_ptr<void> owner);
    static std::shared_ptr<const LowPrecisionMatrix> adopt_int8(int64_t rows, int64_t cols, const int8_t* values,
                                                                const float* scales, std::shared_ptr<void> owner);

    WeightType type() const { return type_; }
    int64_t rows() const { return rows_; }
    int64_t cols() const { return cols_; }
    int64_t blocks_per_row() const { return (cols_ + kBlock - 1) / kBlock; }
    const uint16_t* bf16() const { return bf16_; }    // (rows, cols) when type() == bf16
    const int8_t* int8() const { return int8_; }      // (rows, cols) when type() == int8
    const float* scales() const { return scales_; }   // (rows, blocks_per_row) when type() == int8
    int64_t bytes() const;                             // what the values (and scales) occupy

    // Rows [r0, r1) widened to fp32 into out ((r1 − r0) × cols, row-major).
    void dequantize_rows(int64_t r0, int64_t r1, float* out) const;
    Tensor dequantize() const;  // (rows, cols) fp32

private:
    // std::allocator at the cache line: the decoding kernels (ops/gemv_dot.cpp) load whole
    // 64-byte lines of a row, and a large malloc'd block starts 16 bytes past a page, so every
    // such load would straddle two lines. Large blocks also get huge pages (core/buffer_pool.hpp):
    // a conversion at load writes every page of them first. Freed with std::free; throws
    // std::bad_alloc when out of memory.
    static void* allocate_cache_lines(size_t bytes);
    template <class T>
    struct CacheLineAllocator {
        using value_type = T;
        CacheLineAllocator() = default;
        template <class U>
        CacheLineAllocator(const CacheLineAllocator<U>&) {}
        T* allocate(size_t n) { return static_cast<T*>(allocate_cache_lines(n * sizeof(T))); }
        void deallocate(T* p, size_t) { std::free(p); }
        // resize(n) leaves the new values uninitialised (every caller writes them all next):
        // zeroing first faulted GPT-2 small's int8 copy in on one thread before the parallel
        // conversion wrote it (`--dtype int8` load at two threads: 0.89–0.95 → 0.74–0.76 s).
        template <class U>
        void construct(U* p) noexcept {
            ::new (static_cast<void*>(p)) U;
        }
        template <class U, class... Args>
        void construct(U* p, Args&&... args) {
            ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
        }
        friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) { return true; }
    };
    template <class T>
    using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

    LowPrecisionMatrix() = default;
    // Both quantize()s: into `memory` when given, else into the own_ vectors.
    static std::shared_ptr<const LowPrecisionMatrix> quantize_into(const Tensor& w, WeightType type, void* memory,
                                                                   std::shared_ptr<void> owner);
    WeightType type_ = WeightType::f32;
    int64_t rows_ = 0, cols_ = 0;
    const uint16_t* bf16_ = nullptr;
    const int8_t* int8_ = nullptr;
    const float* scales_ = nullptr;
    CacheLineVector<uint16_t> own_bf16_;  // the values when this object holds them itself
    CacheLineVector<int8_t> own_int8_;
    CacheLineVector<float> own_scales_;
    std::shared_ptr<void> owner_;     // or whoever does (a mapped file)
};

// A (rows, cols) tensor whose only values are m's: a parameter after conversion. It does not
// require grad.
Tensor low_precision_tensor(std::shared_ptr<const LowPrecisionMatrix> m);

}  // namespace attend
