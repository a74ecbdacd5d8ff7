// Attention held to PyTorch on the grid (a covering design, see
// tests/reference/attention.py): both paths, forward and the gradients of q, k and v.
//
// Tolerances: forward 1e-5, gradients 1e-4, relative to the expected tensor's largest entry.
// The expected values were computed in float64, so the errors below are ours alone.
// One exception to "relative to its own scale": a gradient that is exactly zero (Tq = Tk = 1:
// a softmax over one key is constant, so dq = dk = 0) has no scale; its rounding noise is
// measured against the case's largest gradient instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "attend/attention.hpp"
#include "attend/ops.hpp"
#include "support/reference.hpp"

using namespace attend;
using attend::testing::close_to;
using attend::testing::load_reference;
using attend::testing::relative_error;

namespace {

constexpr double kForwardTolerance = 1e-5;
constexpr double kGradientTolerance = 1e-4;

struct CaseResult {
    Tensor out, dq, dk, dv, weights;
};

double max_abs(const Tensor& t) {
    double m = 0;
    for (float x : t.to_vector()) m = std::max(m, double(std::fabs(x)));
    return m;
}

// Relative error of one gradient; an all-zero expected gradient borrows the case's scale.
double gradient_error(const Tensor& actual, const Tensor& expected, const CaseResult& e) {
    const double own = max_abs(expected);
    const double floor = own > 0 ? 1e-6 : std::max({max_abs(e.dq), max_abs(e.dk), max_abs(e.dv), 1e-6});
    return relative_error(actual, expected, floor);
}

::testing::AssertionResult gradient_close(const Tensor& actual, const Tensor& expected, const CaseResult& e,
                                          double tolerance, const std::string& what) {
    if (!actual.defined() || actual.shape() != expected.shape()) return close_to(actual, expected, tolerance, what);
    const double err = gradient_error(actual, expected, e);
    if (err <= tolerance) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": relative error " << err << " > " << tolerance;
}

// Runs case `prefix` ("case07.") on one path: forward, then backward of the stored dO.
CaseResult run_case(std::map<std::string, Tensor>& ref, const std::string& prefix, AttentionPath path) {
    const std::vector<float> p = ref.at(prefix + "params").to_vector();  // B H Hkv Tq Tk D Dv window causal scale
    AttentionMask mask;
    mask.window = int64_t(p[7]);
    mask.causal = p[8] != 0.f;
    if (ref.count(prefix + "key_lengths"))
        for (float n : ref.at(prefix + "key_lengths").to_vector()) mask.key_lengths.push_back(int64_t(n));
    if (ref.count(prefix + "bool_mask")) mask.bool_mask = ref.at(prefix + "bool_mask");
    if (ref.count(prefix + "additive_mask")) mask.additive_mask = ref.at(prefix + "additive_mask");
    AttentionOptions options;
    options.scale = p[9];
    options.path = path;
    options.return_weights = path == AttentionPath::reference && ref.count(prefix + "weights");

    Tensor q = ref.at(prefix + "q").clone(), k = ref.at(prefix + "k").clone(), v = ref.at(prefix + "v").clone();
    q.requires_grad_();
    k.requires_grad_();
    v.requires_grad_();
    AttentionOutput r = attention(q, k, v, mask, options);
    r.output.backward(ref.at(prefix + "dout"));
    return {r.output, q.grad(), k.grad(), v.grad(), r.weights};
}

std::vector<std::string> case_prefixes(const std::map<std::string, Tensor>& ref) {
    std::vector<std::string> prefixes;
    for (const auto& [name, t] : ref)
        if (name.size() > 7 && name.compare(name.size() - 7, 7, ".params") == 0)
            prefixes.push_back(name.substr(0, name.size() - 6));
    return prefixes;
}

std::string describe(const std::map<std::string, Tensor>& ref, const std::string& prefix) {
    const std::vector<float> p = ref.at(prefix + "params").to_vector();
    std::ostringstream s;
    s << prefix << " B=" << p[0] << " H=" << p[1] << " Hkv=" << p[2] << " Tq=" << p[3] << " Tk=" << p[4]
      << " D=" << p[5] << " Dv=" << p[6] << " window=" << p[7] << " causal=" << p[8]
      << (ref.count(prefix + "key_lengths") ? " key_lengths" : "") << (ref.count(prefix + "bool_mask") ? " bool" : "")
      << (ref.count(prefix + "additive_mask") ? " additive" : "");
    return s.str();
}

struct Worst {
    double out = 0, dq = 0, dk = 0, dv = 0, weights = 0;
    std::string where_out, where_grad;
};

void report(const char* label, const Worst& w) {
    std::cout << std::scientific << std::setprecision(2) << "[attention parity] " << label << ": worst relative error "
              << "out " << w.out << " (" << w.where_out << "), dq " << w.dq << ", dk " << w.dk << ", dv " << w.dv
              << " (worst gradient: " << w.where_grad << ")";
    if (w.weights > 0) std::cout << ", weights " << w.weights;
    std::cout << std::defaultfloat << "\n";
    ::testing::Test::RecordProperty(std::string(label) + "_out", std::to_string(w.out));
    ::testing::Test::RecordProperty(std::string(label) + "_dq", std::to_string(w.dq));
    ::testing::Test::RecordProperty(std::string(label) + "_dk", std::to_string(w.dk));
    ::testing::Test::RecordProperty(std::string(label) + "_dv", std::to_string(w.dv));
}

void track(Worst& w, const CaseResult& a, const CaseResult& e, const std::string& prefix) {
    const double out = relative_error(a.out, e.out);
    if (out > w.out) w.out = out, w.where_out = prefix;
    const double dq = gradient_error(a.dq, e.dq, e), dk = gradient_error(a.dk, e.dk, e), dv = gradient_error(a.dv, e.dv, e);
    if (std::max({dq, dk, dv}) > std::max({w.dq, w.dk, w.dv})) w.where_grad = prefix;
    w.dq = std::max(w.dq, dq);
    w.dk = std::max(w.dk, dk);
    w.dv = std::max(w.dv, dv);
}

void check_path_against_torch(AttentionPath path, const char* label) {
    auto ref = load_reference("attention");
    const std::vector<std::string> prefixes = case_prefixes(ref);
    ASSERT_GE(prefixes.size(), 30u) << "the reference file holds too few cases";
    Worst worst;
    for (const std::string& prefix : prefixes) {
        SCOPED_TRACE(describe(ref, prefix));
        const CaseResult r = run_case(ref, prefix, path);
        const CaseResult expected{ref.at(prefix + "out"), ref.at(prefix + "dq"), ref.at(prefix + "dk"),
                                  ref.at(prefix + "dv"), ref.count(prefix + "weights") ? ref.at(prefix + "weights") : Tensor()};
        EXPECT_TRUE(close_to(r.out, expected.out, kForwardTolerance, "output"));
        EXPECT_TRUE(gradient_close(r.dq, expected.dq, expected, kGradientTolerance, "dq"));
        EXPECT_TRUE(gradient_close(r.dk, expected.dk, expected, kGradientTolerance, "dk"));
        EXPECT_TRUE(gradient_close(r.dv, expected.dv, expected, kGradientTolerance, "dv"));
        if (expected.weights.defined() && path == AttentionPath::reference) {
            EXPECT_TRUE(close_to(r.weights, expected.weights, kForwardTolerance, "weights"));
            worst.weights = std::max(worst.weights, relative_error(r.weights, expected.weights));
        }
        track(worst, r, expected, prefix);
    }
    report(label, worst);
}

}  // namespace

TEST(AttentionParity, ReferencePathMatchesTorch) { check_path_against_torch(AttentionPath::reference, "reference"); }

TEST(AttentionParity, FusedPathMatchesTorch) { check_path_against_torch(AttentionPath::fused, "fused"); }

// The promise: fused equals reference to 1e-5, on the same grid.
TEST(AttentionParity, FusedEqualsReference) {
    auto ref = load_reference("attention");
    const std::vector<std::string> prefixes = case_prefixes(ref);
    ASSERT_GE(prefixes.size(), 30u);
    Worst worst;
    for (const std::string& prefix : prefixes) {
        SCOPED_TRACE(describe(ref, prefix));
        const CaseResult r = run_case(ref, prefix, AttentionPath::reference);
        const CaseResult f = run_case(ref, prefix, AttentionPath::fused);
        EXPECT_TRUE(close_to(f.out, r.out, 1e-5, "output"));
        EXPECT_TRUE(gradient_close(f.dq, r.dq, r, 1e-5, "dq"));
        EXPECT_TRUE(gradient_close(f.dk, r.dk, r, 1e-5, "dk"));
        EXPECT_TRUE(gradient_close(f.dv, r.dv, r, 1e-5, "dv"));
        track(worst, f, r, prefix);
    }
    report("fused_vs_reference", worst);
}
