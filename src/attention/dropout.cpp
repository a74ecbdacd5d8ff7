// attention/dropout.cpp — the keep-mask of attention dropout (see attention/dropout.hpp).
#include "attention/dropout.hpp"

namespace attend {

namespace {

uint32_t row_key(uint64_t seed, uint64_t row) {  // SplitMix64's finaliser, high half
    uint64_t z = seed + row * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return uint32_t((z ^ (z >> 31)) >> 32);
}

// One row, 32-bit lanes only: GCC vectorises it in each clone (16 lanes with AVX-512, 8 with AVX2).
__attribute__((target_clones("avx512f", "avx2", "default"))) void drop_row(float* row, int64_t n, uint32_t key,
                                                                             uint32_t first_key_index,
                                                                             uint32_t threshold, float scale) {
    for (int64_t j = 0; j < n; ++j) {
        uint32_t z = key ^ ((first_key_index + uint32_t(j)) * 0x9E3779B9u);
        z ^= z >> 16;  // MurmurHash3's fmix32
        z *= 0x85EBCA6Bu;
        z ^= z >> 13;
        z *= 0xC2B2AE35u;
        z ^= z >> 16;
        row[j] = z >= threshold ? row[j] * scale : 0.f;
    }
}

}  // namespace

void AttentionDropout::apply(float* row, int64_t n, int64_t b, int64_t h, int64_t i, int64_t k0) const {
    const uint32_t threshold = uint32_t(double(p) * 4294967296.0);  // keep when the hash is ≥ p·2³²
    drop_row(row, n, row_key(seed, uint64_t((b * H + h) * Tq + i)), uint32_t(k0), threshold, 1.f / (1.f - p));
}

}  // namespace attend
