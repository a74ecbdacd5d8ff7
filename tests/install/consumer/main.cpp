// A program outside the project that uses the installed attend package.
#include <attend/attention.hpp>
#include <attend/version.hpp>
#include <cmath>
#include <cstdio>

int main() {
    // Two orthogonal unit tokens: each attends e/(e+1) to itself.
    attend::Tensor x = attend::Tensor::from_vector({2, 2}, {1, 0, 0, 1});
    attend::Tensor z = attend::basic_self_attention(x);
    const float expected = std::exp(1.f) / (std::exp(1.f) + 1.f);
    std::printf("attend %s: z[0][0] = %.6f (expected %.6f)\n", attend::version(), z.at({0, 0}), expected);
    return std::fabs(z.at({0, 0}) - expected) < 1e-6f ? 0 : 1;
}
