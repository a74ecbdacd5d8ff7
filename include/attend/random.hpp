// random.hpp — a small, seedable, serialisable random generator.
//
// std::mt19937 + std::normal_distribution differ between standard libraries; training must
// be reproducible bit for bit, so we own the generator: xoshiro256** (Blackman & Vigna)
// seeded through splitmix64, normals by Box–Muller.
#pragma once
#include <array>
#include <cstdint>

namespace attend {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) { manual_seed(seed); }
    void manual_seed(uint64_t seed);
    uint64_t next_u64();
    float uniform();                      // [0, 1)
    float uniform(float low, float high); // [low, high)
    float normal(float mean = 0.f, float stddev = 1.f);

    std::array<uint64_t, 4> state() const { return s_; }
    void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

private:
    std::array<uint64_t, 4> s_{};
};

}  // namespace attend
