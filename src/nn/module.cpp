// nn/module.cpp — the parameter-collection convention (nn/module.hpp): names, in-place
// loading with every check done before the first write, and dropout by mode.
#include "attend/nn/module.hpp"

#include <algorithm>
#include <set>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"

namespace attend {

std::string join_name(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

void add_parameter(NamedParameters& out, const std::string& prefix, const std::string& name, Tensor& t) {
    if (t.defined()) out.emplace_back(join_name(prefix, name), &t);
}

void copy_parameter(Tensor& target, const Tensor& source, const std::string& name) {
    ATTEND_CHECK(target.defined(), "parameter ", name, " is undefined; nothing to copy into");
    ATTEND_CHECK(source.defined(), "no value given for parameter ", name, " of shape ", to_string(target.shape()));
    ATTEND_CHECK(source.shape() == target.shape(), "parameter ", name, " has shape ", to_string(target.shape()),
                 " but the value given has shape ", to_string(source.shape()));
    NoGradGuard no_grad;
    const Tensor s = source.contiguous();
    ATTEND_CHECK(target.is_contiguous(), "parameter ", name, " is not contiguous");
    std::copy_n(s.data(), s.numel(), target.data());
}

void load_parameters(const NamedParameters& params, const std::map<std::string, Tensor>& source,
                     const std::string& source_prefix, bool strict) {
    std::set<std::string> taken;
    for (const auto& [name, p] : params) {
        const std::string key = source_prefix + name;
        auto it = source.find(key);
        ATTEND_CHECK(it != source.end(), "no tensor named ", key, " for parameter ", name, " of shape ",
                     to_string(p->shape()));
        ATTEND_CHECK(it->second.shape() == p->shape(), "tensor ", key, " has shape ", to_string(it->second.shape()),
                     ", parameter ", name, " expects ", to_string(p->shape()));
        taken.insert(key);
    }
    if (strict)
        for (const auto& [key, t] : source)
            if (key.compare(0, source_prefix.size(), source_prefix) == 0)
                ATTEND_CHECK(taken.count(key), "tensor ", key, " of shape ", to_string(t.shape()),
                             " matches no parameter (", params.size(), " parameters under prefix '", source_prefix,
                             "')");
    for (const auto& [name, p] : params) copy_parameter(*p, source.at(source_prefix + name), name);
}

int64_t count_parameters(const NamedParameters& params) {
    int64_t n = 0;
    for (const auto& [name, p] : params) n += p->numel();
    return n;
}

void zero_grad(const NamedParameters& params) {
    for (const auto& [name, p] : params) p->zero_grad();
}

Tensor apply_dropout(const Tensor& x, float p, const ForwardMode& mode) {
    if (!mode.training || p == 0.f) return x;
    ATTEND_CHECK(mode.generator != nullptr, "dropout with p=", p,
                 " in training mode needs a Generator (ForwardMode::generator is null)");
    return dropout(x, p, *mode.generator, true);
}

}  // namespace attend
