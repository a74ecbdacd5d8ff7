// tools/attend/options.cpp — options that several subcommands share, spelled once.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "options.hpp"

#include "attend/error.hpp"
#include "attend/profile.hpp"

namespace attend::cli {

TextModel ModelOptions::load() const {
    return load_text_model(model, tokenizer, parse_weight_type(dtype), LoadOptions{.mmap = mmap});
}

TextModel ModelOptions::load_language_model() const {
    TextModel lm = load();
    const TransformerConfig& c = lm.loaded.config;
    if (c.shape != ModelShape::decoder || c.head != HeadType::lm)
        throw Error(model + ": needs a language model (a decoder with an lm head), this one is " + name_of(c.shape) +
                    " with a " + name_of(c.head) + " head" + (c.shape == ModelShape::encoder ? " (use encode)" : ""));
    return lm;
}

void add_model_options(CLI::App* cmd, ModelOptions& o, DtypeOption dtype) {
    cmd->add_option("--model", o.model,
                    "Model: a Hugging Face folder, a .safetensors, a GGUF, a llama2.c .bin or an attend checkpoint")
        ->required();
    cmd->add_option("--tokenizer", o.tokenizer, "Tokenizer file or folder (default: found beside the model)");
    cmd->add_flag("--mmap", o.mmap,
                  "Map the model file instead of reading it into memory (huge pages): for a model larger than the "
                  "memory (mapped anyway) or a short run; decoding reads mapped f32 weights slower");
    if (dtype == DtypeOption::offered) add_dtype_option(cmd, o.dtype);
}

void add_dtype_option(CLI::App* cmd, std::string& dtype) {
    cmd->add_option("--dtype", dtype,
                    "Weights for inference: f32, bf16 (half the bytes) or int8 (a scale per 32 values); the "
                    "model's matrices are converted after loading")
        ->check(CLI::IsMember({"f32", "bf16", "int8"}))
        ->capture_default_str();
}

void add_kv_cache_option(CLI::App* cmd, std::string& kv_cache) {
    cmd->add_option("--kv-cache", kv_cache,
                    "What the KV cache holds: f32 (the numbers of a pass without a cache) or bf16 (half the memory, "
                    "and half the bytes each new token reads of a long context)")
        ->check(CLI::IsMember({"f32", "bf16"}))
        ->capture_default_str();
}

void add_profile_option(CLI::App* cmd, bool& profile) {
    cmd->add_flag("--profile", profile,
                  "After the run, print to stderr the time per phase and per op kind (calls, self time, share, "
                  "mean per call)");
}

CLI::Validator whole_number(uint64_t min, uint64_t max) {
    return CLI::Validator(
        [min, max](std::string& value) -> std::string {
            // Digits only: "-1" must not wrap into an unsigned seed, "1e3" or "2.5" not truncate.
            bool fits = !value.empty() && value.size() <= 20 && value.find_first_not_of("0123456789") == std::string::npos;
            if (fits) {
                errno = 0;
                const unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
                fits = errno != ERANGE && v >= min && v <= max;
            }
            return fits ? std::string()
                        : "got " + value + ", expected a whole number in [" + std::to_string(min) + ", " +
                              std::to_string(max) + "]";
        },
        "INT in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

CLI::Validator real_number(double min, double max, bool min_open, bool max_open) {
    char range[96];
    std::snprintf(range, sizeof range, "%s%g, %g%s", min_open ? "(" : "[", min, max, max_open ? ")" : "]");
    const std::string text = range;
    return CLI::Validator(
        [=](std::string& value) -> std::string {
            char* end = nullptr;
            const double v = value.empty() ? NAN : std::strtod(value.c_str(), &end);
            const bool fits = !value.empty() && end == value.c_str() + value.size() && std::isfinite(v) &&
                              (min_open ? v > min : v >= min) && (max_open ? v < max : v <= max);
            return fits ? std::string() : "got " + value + ", expected a finite number in " + text;
        },
        "NUMBER in " + text);
}

void print_profile(const std::string& extra) {
    std::fflush(stdout);  // the run's own output first, when both go to one terminal
    const std::string table = profile::report() + extra;
    std::fputs(table.c_str(), stderr);
}

}  // namespace attend::cli
