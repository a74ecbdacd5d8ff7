#include "support/reference.hpp"

#include <cmath>
#include <filesystem>

#include "attend/io/safetensors.hpp"

namespace attend::testing {

std::map<std::string, Tensor> load_reference(const std::string& name) {
    const std::string path = std::string(ATTEND_REFERENCE_DIR) + "/" + name + ".safetensors";
    if (!std::filesystem::exists(path))
        ADD_FAILURE() << "PyTorch reference " << path << " is missing: run the reference." << name
                      << " test (it needs Debian's python3-torch for /usr/bin/python3)";
    return std::filesystem::exists(path) ? load_safetensors(path) : std::map<std::string, Tensor>{};
}

double relative_error(const Tensor& actual, const Tensor& expected, double floor) {
    const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
    double max_diff = 0, scale = floor;
    for (size_t i = 0; i < a.size() && i < e.size(); ++i) {
        const double d = std::fabs(double(a[i]) - e[i]);
        max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
        scale = std::max(scale, std::fabs(double(e[i])));
    }
    return max_diff / scale;
}

::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected, double tolerance,
                                    const std::string& what) {
    if (!actual.defined() || !expected.defined())
        return ::testing::AssertionFailure() << what << ": tensor is undefined";
    if (actual.shape() != expected.shape())
        return ::testing::AssertionFailure() << what << ": shape " << to_string(actual.shape())
                                             << " vs expected " << to_string(expected.shape());
    const double err = relative_error(actual, expected);
    if (err <= tolerance) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": relative error " << err << " > " << tolerance;
}

std::vector<int64_t> ids_of(const Tensor& t) {
    std::vector<int64_t> out;
    if (!t.defined()) return out;
    for (float v : t.to_vector()) out.push_back(int64_t(std::lround(v)));
    return out;
}

}  // namespace attend::testing
