// tools/attend/generate.cpp — `attend generate --model PATH --prompt TEXT`: continue a prompt
// with a real checkpoint and print the text as it is decoded.
//
//   model + tokenizer   generate/text_model.hpp (the tokenizer beside the model unless given)
//   prompt ids          the tokenizer's special tokens added (Llama: BOS)
//   decoding            attend::generate with a KV cache; stops at EOS (and BOS for llama2.c)
//   streaming           after each token, the tokenizer's DecodeStream gives the new final
//                       text in whole characters only, so a character split over byte-level
//                       tokens is printed once, whole
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attend/error.hpp"
#include "attend/generate/generate.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/generate/text_stream.hpp"
#include "attend/profile.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct GenerateCliOptions {
    ModelOptions model;
    std::string kv_cache = "f32";
    std::string prompt;
    std::vector<std::string> stop;
    int64_t new_tokens = 128;
    float temperature = 1.f, top_p = 0.9f;
    int64_t top_k = 0;
    uint64_t seed = 0;
    bool verbose = false, profile = false;
};

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);  // streaming: show each piece as soon as it is whole
}

// --profile: tokens through the model per second of each forward phase (one sequence: a decode
// step feeds one token).
std::string throughput(size_t prompt_tokens) {
    std::string out;
    char line[120];
    const auto rate = [&](const char* phase, double tokens) {
        const profile::Entry e = profile::find(phase, profile::Kind::phase);
        if (e.calls == 0) return;
        std::snprintf(line, sizeof line, "  %-8s %6.0f tokens in %8.1f ms: %10.1f tokens/s\n", phase, tokens,
                      e.inclusive_ms, e.inclusive_ms > 0 ? 1000.0 * tokens / e.inclusive_ms : 0.0);
        out += line;
    };
    rate("prefill", double(prompt_tokens));
    rate("decode", double(profile::find("decode", profile::Kind::phase).calls));
    return out;
}

void run_generate(const GenerateCliOptions& o, bool seed_given) {
    profile::enable(o.profile);
    const TextModel lm = [&] {
        const PhaseScope phase("load");
        return o.model.load_language_model();
    }();
    const std::vector<int64_t> prompt = [&] {
        const PhaseScope phase("tokenize");
        return lm.prompt_ids(o.prompt);
    }();

    GenerateOptions g;
    g.max_new_tokens = o.new_tokens;
    g.temperature = o.temperature;
    g.top_k = o.top_k;
    g.top_p = o.top_p;
    g.seed = seed_given ? o.seed : uint64_t(std::chrono::system_clock::now().time_since_epoch().count());
    g.stop_tokens = lm.stop_tokens();
    g.vocab_limit = lm.vocab_limit();
    g.kv_cache = parse_weight_type(o.kv_cache);
    if (o.verbose)
        std::fprintf(stderr, "[attend] %s (%s, %lld parameters), tokenizer %s (%s), prompt of %zu tokens, seed %llu\n",
                     o.model.model.c_str(), name_of(lm.loaded.format),
                     (long long)parameter_count(lm.loaded.config), lm.tokenizer_path.c_str(),
                     std::string(lm.tokenizer->kind()).c_str(), prompt.size(), (unsigned long long)g.seed);

    // The prompt is printed as the tokenizer reads it back, then every new piece after it:
    // TextStream (the server's too) gives the text that is final so far, in whole, valid
    // characters only (a stray byte becomes U+FFFD), holding back what could begin a --stop
    // string; a stop string ends the generation and is not printed.
    TextStream text(*lm.tokenizer, o.stop, /*skip_special=*/true);
    {
        const PhaseScope phase("detokenize");
        print(text.prime(prompt));
    }
    const auto detokenize = [&](int64_t id) {
        const PhaseScope phase("detokenize");  // includes writing the text out
        print(text.push(id));
    };

    const auto start = std::chrono::steady_clock::now();
    const auto result = generate(
        lm.model(), {prompt}, g, [&](int64_t, int64_t token) { detokenize(token); },
        [&](int64_t) { return text.stopped(); });
    print(text.finish() + "\n");
    if (o.verbose) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const size_t n = result[0].tokens.size();
        std::fprintf(stderr, "[attend] %zu new tokens in %.3f s (%.1f tokens/s), finished by %s\n", n, s,
                     s > 0 ? double(n) / s : 0.0, name_of(result[0].finish));
    }
    if (o.profile) {
        profile::enable(false);
        print_profile(throughput(prompt.size()));
    }
}

}  // namespace

void register_generate(CLI::App& app) {
    auto o = std::make_shared<GenerateCliOptions>();
    CLI::App* cmd = app.add_subcommand("generate", "Continue a prompt with a trained model, streaming the text");
    cmd->footer(
        "\nPATH is a Hugging Face folder (config.json + model.safetensors), a .safetensors file, a\n"
        "llama2.c .bin or an attend checkpoint. The tokenizer beside it is used unless --tokenizer\n"
        "is given. --temperature 0 is greedy decoding (deterministic); otherwise tokens are drawn\n"
        "after temperature, top-k and top-p, from a generator seeded with --seed.\n\n"
        "Example:\n"
        "  attend generate --model stories260K/stories260K.bin --prompt \"Once upon a time\" -n 100 --temperature 0");
    add_model_options(cmd, o->model, DtypeOption::offered);
    add_kv_cache_option(cmd, o->kv_cache);
    cmd->add_option("--prompt", o->prompt, "Text to continue (default: empty, i.e. start from BOS)");
    cmd->add_option("-n,--new-tokens", o->new_tokens, "How many tokens to generate at most")
        ->check(whole_number(0, uint64_t(1) << 30))
        ->capture_default_str();
    cmd->add_option("--temperature", o->temperature, "Softmax temperature; 0 = greedy")
        ->check(real_number(0, 1e6))
        ->capture_default_str();
    cmd->add_option("--top-k", o->top_k, "Sample among the K most probable tokens; 0 = off")
        ->check(whole_number(0, uint64_t(1) << 31))
        ->capture_default_str();
    cmd->add_option("--top-p", o->top_p, "Nucleus: the smallest set of tokens with probability >= P; 1 = off")
        ->check(real_number(0, 1, true, false))
        ->capture_default_str();
    cmd->add_option("--stop", o->stop,
                    "Stop at this text (repeatable); matched across tokens, not printed");
    CLI::Option* seed =
        cmd->add_option("--seed", o->seed, "Random seed (default: from the clock)")->check(whole_number(0, kMaxSeed));
    add_profile_option(cmd, o->profile);
    cmd->add_flag("-v,--verbose", o->verbose, "Print the model, tokenizer, seed and speed to stderr");
    cmd->callback([o, seed] { run_generate(*o, seed->count() > 0); });
}

}  // namespace attend::cli
