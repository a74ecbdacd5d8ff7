// Tensor basics and the autograd tape.
#include <gtest/gtest.h>

#include "attend/gradcheck.hpp"
#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/random.hpp"

using namespace attend;

TEST(Tensor, ViewsShareStorageAndCopyWhenNeeded) {
    Tensor x = Tensor::from_vector({2, 3}, {0, 1, 2, 3, 4, 5});
    Tensor t = x.transpose(0, 1);
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_FALSE(t.is_contiguous());
    EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(t.storage(), x.storage());
    Tensor c = t.contiguous();
    EXPECT_NE(c.storage(), x.storage());
    EXPECT_EQ(x.slice(1, 1, 3).to_vector(), (std::vector<float>{1, 2, 4, 5}));
    EXPECT_EQ(x.reshape({3, -1}).shape(), (Shape{3, 2}));
    EXPECT_EQ(x.permute({1, 0}).to_vector(), t.to_vector());
    EXPECT_THROW(x.reshape({4, 2}), Error);
    EXPECT_THROW(x.slice(1, 2, 5), Error);
}

// A transposed matrix is copied by 32 × 32 tiles (core/tensor.cpp): whole tiles, ragged last
// ones in either direction, one row or two columns, and a column block of a wider matrix (as
// GPT-2's c_attn splits into q, k, v) — every element where its indices say.
TEST(Tensor, TransposedMatricesCopyElementForElement) {
    Generator gen(5);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{64, 3072}, {100, 768}, {33, 45}, {7, 5}, {1, 40}, {40, 2}}) {
        const Tensor stored = Tensor::randn({cols, 3 * rows}, gen);  // (in, 3 · out)
        for (const Tensor& w : {stored.slice(1, 0, rows).transpose(0, 1), stored.slice(1, rows, 2 * rows).transpose(0, 1)}) {
            ASSERT_FALSE(w.is_contiguous());
            const std::vector<float> copy = w.contiguous().to_vector();
            ASSERT_EQ(int64_t(copy.size()), rows * cols);
            int64_t wrong = 0;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) wrong += copy[size_t(r * cols + c)] != w.at({r, c});
            EXPECT_EQ(wrong, 0) << rows << " × " << cols;
        }
    }
}

TEST(Tensor, ErrorsNameTheProblem) {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
    try {
        matmul(a, b);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("(2, 3) @ (4, 5)"), std::string::npos) << e.what();
    }
}

TEST(Autograd, ChainRuleThroughSharedInputs) {
    // L = Σ (x·x + x) → dL/dx = 2x + 1, x used on two paths.
    Tensor x = Tensor::from_vector({3}, {1, -2, 3});
    x.requires_grad_();
    sum(add(mul(x, x), x)).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3, -3, 7}));
}

TEST(Autograd, NoGradModeRecordsNothing) {
    Tensor x = Tensor::ones({2});
    x.requires_grad_();
    NoGradGuard guard;
    Tensor y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Autograd, MatmulGradientMatchesFiniteDifferences) {
    Generator gen(1);
    Tensor a = Tensor::randn({2, 3, 4}, gen), b = Tensor::randn({4, 5}, gen);
    auto r = gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
    EXPECT_TRUE(r.ok()) << r.worst;
    auto rt = gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0].transpose(-1, -2), in[1]); },
                        {Tensor::randn({3, 4, 2}, gen), Tensor::randn({3, 4, 5}, gen)});
    EXPECT_TRUE(rt.ok()) << rt.worst;
}

TEST(Generator, IsDeterministicAndRestorable) {
    Generator g(42);
    g.uniform();
    auto state = g.state();
    float a = g.normal();
    g.set_state(state);
    EXPECT_EQ(a, g.normal());
    Generator h(42);
    h.uniform();
    EXPECT_EQ(h.state(), state);
}

TEST(Autograd, LeafGradientsNeverAliasOtherTensors) {
    // add's backward hands the same tensor to both inputs; the seed belongs to the caller.
    Tensor a = Tensor::ones({3}), b = Tensor::ones({3}), seed = Tensor::full({3}, 2.f);
    a.requires_grad_();
    b.requires_grad_();
    add(a, b).backward(seed);
    EXPECT_NE(a.grad().storage(), b.grad().storage());
    EXPECT_NE(a.grad().storage(), seed.storage());
    a.grad().data()[0] = 100.f;  // an optimizer updating in place must touch only a's gradient
    EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{2, 2, 2}));
    EXPECT_EQ(seed.to_vector(), (std::vector<float>{2, 2, 2}));
}

// The tape keeps a first leaf gradient as it is only when sole_owner() says nothing else can
// reach its values; every way of sharing them must make it false.
TEST(Tensor, SoleOwnerOnlyWhenNothingElseReachesTheValues) {
    Tensor fresh = Tensor::ones({2, 3});
    EXPECT_TRUE(fresh.sole_owner());
    {
        Tensor second_handle = fresh;
        EXPECT_FALSE(fresh.sole_owner());
    }
    EXPECT_TRUE(fresh.sole_owner());
    {
        Tensor view = fresh.transpose(0, 1);  // another tensor on the same storage
        EXPECT_FALSE(fresh.sole_owner());
        EXPECT_FALSE(view.sole_owner());
    }
    Tensor part = Tensor::ones({4}).slice(0, 1, 3);  // its storage's only tensor, but not all of it
    EXPECT_FALSE(part.sole_owner());
    auto mapped = std::make_shared<std::vector<float>>(6, 1.f);  // values someone else owns
    Tensor borrowed = Tensor::from_storage(std::make_shared<Storage>(mapped->data(), 6, mapped), {6});
    EXPECT_FALSE(borrowed.sole_owner());
    Tensor a = Tensor::ones({3});
    a.requires_grad_();
    EXPECT_FALSE(add(a, a).sole_owner());  // it has history
    EXPECT_FALSE(Tensor().sole_owner());
}
