// core/random.cpp — xoshiro256** with splitmix64 seeding; Box–Muller normals.
#include "attend/random.hpp"

#include <cmath>

namespace attend {

static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void Generator::manual_seed(uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
}

uint64_t Generator::next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

float Generator::uniform() { return float(next_u64() >> 40) * 0x1.0p-24f; }  // 24 random bits
float Generator::uniform(float low, float high) { return low + (high - low) * uniform(); }

float Generator::normal(float mean, float stddev) {
    // Box–Muller: one normal per call keeps the state a pure function of the call count.
    double u1 = (double(next_u64() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    double u2 = double(next_u64() >> 11) * 0x1.0p-53;
    double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    return mean + stddev * float(z);
}

}  // namespace attend
