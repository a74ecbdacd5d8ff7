// train/train_options.cpp — `attend train`'s options outside the flags: the --config file
// (each value's type checked; fuzzed by fuzz/train_options.cpp), the ranges every option
// must lie in (flags, --config and library callers alike), the options a run records in its
// checkpoint, and what a resumed run may change (see train/trainer.hpp).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "core/require.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/data.hpp"
#include "attend/train/trainer.hpp"
#include "io/json_fields.hpp"

namespace attend {

TrainArch train_arch(const std::string& name) {
    if (name == "gpt") return TrainArch::gpt;
    if (name == "bert") return TrainArch::bert;
    if (name == "seq2seq") return TrainArch::seq2seq;
    ATTEND_CHECK(false, "unknown --arch \"", name, "\" (known: gpt, bert, seq2seq)");
}

TrainOptions read_train_options(const std::string& path, TrainOptions o) {
    return parse_train_options(read_text_file(path), path, std::move(o));
}

TrainOptions parse_train_options(const std::string& text, const std::string& path, TrainOptions o) {
    const nlohmann::json j = parse_json_object(text, path);
    for (auto item = j.begin(); item != j.end(); ++item) {
        const std::string& key = item.key();  // (named, not bound: a lambda below captures them)
        const nlohmann::json& value = item.value();
        // Each value's type checked (io/json_fields.hpp): one line naming the file and the key.
        auto set = [&](auto& field) {
            using T = std::decay_t<decltype(field)>;
            if constexpr (std::is_same_v<T, std::string>) field = json_string(value, path, key);
            else if constexpr (std::is_same_v<T, bool>) field = json_boolean(value, path, key);
            else if constexpr (std::is_floating_point_v<T>) field = T(json_number(value, path, key, -3.4e38, 3.4e38));
            else if constexpr (std::is_unsigned_v<T>) field = T(json_integer(value, path, key, 0));
            else field = T(json_integer(value, path, key, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
        };
        if (key == "arch") o.arch = train_arch(json_string(value, path, key));
        else if (key == "data") set(o.data);
        else if (key == "tokenizer") set(o.tokenizer);
        else if (key == "norm_placement") set(o.norm_placement);
        else if (key == "precision") set(o.precision);
        else if (key == "out") set(o.out);
        else if (key == "layers") set(o.layers);
        else if (key == "heads") set(o.heads);
        else if (key == "kv_heads") set(o.kv_heads);
        else if (key == "dim") set(o.dim);
        else if (key == "block_size") set(o.block_size);
        else if (key == "batch_size") set(o.batch_size);
        else if (key == "steps") set(o.steps);
        else if (key == "grad_accum") set(o.grad_accum);
        else if (key == "lr") set(o.lr);
        else if (key == "min_lr") set(o.min_lr);
        else if (key == "warmup") set(o.warmup);
        else if (key == "weight_decay") set(o.weight_decay);
        else if (key == "beta1") set(o.beta1);
        else if (key == "beta2") set(o.beta2);
        else if (key == "grad_clip") set(o.grad_clip);
        else if (key == "dropout") set(o.dropout);
        else if (key == "attention_dropout") set(o.attention_dropout);
        else if (key == "eval_every") set(o.eval_every);
        else if (key == "eval_batches") set(o.eval_batches);
        else if (key == "checkpoint_every") set(o.checkpoint_every);
        else if (key == "seed") set(o.seed);
        else if (key == "threads") set(o.threads);
        else if (key == "comm_timeout") set(o.comm_timeout);
        else ATTEND_CHECK(false, path, ": unknown option \"", key, "\"");
    }
    return o;
}


namespace fs = std::filesystem;

namespace {

// One numeric option: its --config key, and what it accepts. Counts are whole decimal
// numbers (no sign, no exponent: "-1" never wraps into a huge unsigned value); reals are
// finite decimal numbers.
struct Range {
    const char* key;
    bool integer;
    double min, max;
    bool min_open, max_open;
    const char* meaning;  // for the message
};

constexpr double kHuge = 1e300;
constexpr double kMaxCount = 1e12;  // steps and the like: far beyond any run, far below 2^63

const Range kRanges[] = {
    {"layers", true, 1, 1024, false, false, "a layer count"},
    {"heads", true, 1, 1024, false, false, "a head count"},
    {"kv_heads", true, 0, 1024, false, false, "a key/value head count (0: as many as heads)"},
    {"dim", true, 1, 65536, false, false, "a model width"},
    {"block_size", true, 2, 1 << 20, false, false, "a context length"},
    {"batch_size", true, 1, 1 << 20, false, false, "a batch size"},
    {"grad_accum", true, 1, 1 << 20, false, false, "a micro-batch count"},
    {"steps", true, 1, kMaxCount, false, false, "a step count"},
    {"warmup", true, 0, kMaxCount, false, false, "a step count"},
    {"eval_every", true, 0, kMaxCount, false, false, "a step count (0: at the end only)"},
    {"eval_batches", true, 1, 1 << 20, false, false, "a batch count"},
    {"checkpoint_every", true, 0, kMaxCount, false, false, "a step count (0: at each evaluation)"},
    {"seed", true, 0, 18446744073709551615.0, false, false, "a seed"},
    {"threads", true, 0, 4096, false, false, "a thread count (0: all cores)"},
    {"lr", false, 0, kHuge, true, false, "a learning rate"},
    {"min_lr", false, 0, kHuge, false, false, "a learning rate"},
    {"weight_decay", false, 0, kHuge, false, false, "a weight decay"},
    {"beta1", false, 0, 1, false, true, "an Adam beta"},
    {"beta2", false, 0, 1, false, true, "an Adam beta"},
    {"grad_clip", false, 0, kHuge, false, false, "a gradient norm (0: off)"},
    {"dropout", false, 0, 1, false, true, "a dropout probability"},
    {"attention_dropout", false, 0, 1, false, true, "a dropout probability"},
    {"comm_timeout", false, 0, 1e6, true, false, "a wait in seconds"},
};

std::string number(double v) {
    if (v >= 18446744073709551615.0) return "18446744073709551615";  // 2^64 - 1, the largest seed
    char buf[40];
    std::snprintf(buf, sizeof buf, v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%.9g", v);
    return buf;
}

std::string expected(const Range& r) {
    std::string s = std::string(r.meaning) + ": " + (r.integer ? "a whole number" : "a finite number");
    if (r.max >= kHuge) return s + (r.min_open ? " > " : " >= ") + number(r.min);
    return s + " in " + (r.min_open ? "(" : "[") + number(r.min) + ", " + number(r.max) + (r.max_open ? ")" : "]");
}

const Range* range_of(const std::string& key) {
    for (const Range& r : kRanges)
        if (key == r.key) return &r;
    return nullptr;
}

std::string flag_of(const std::string& key) {
    std::string flag = "--" + key;
    for (char& c : flag)
        if (c == '_') c = '-';
    return flag;
}

std::string text_of(int64_t v) { return std::to_string(v); }
std::string text_of(uint64_t v) { return std::to_string(v); }
std::string text_of(float v) { return number(double(v)); }

}  // namespace

std::string train_option_problem(const std::string& key, const std::string& text) {
    const Range* r = range_of(key);
    if (r == nullptr) return "";
    double value = 0;
    bool parsed = false;
    if (r->integer) {
        if (!text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos) {
            errno = 0;
            const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
            parsed = errno != ERANGE;
            value = double(v);
        }
    } else if (!text.empty()) {
        char* end = nullptr;
        value = std::strtod(text.c_str(), &end);
        parsed = end == text.c_str() + text.size() && std::isfinite(value);
    }
    const bool fits = parsed && (r->min_open ? value > r->min : value >= r->min) &&
                      (r->max_open ? value < r->max : value <= r->max);
    return fits ? "" : "got " + text + ", expected " + expected(*r);
}

void check_train_options(const TrainOptions& o) {
    auto check = [](const char* key, auto value) {
        const std::string problem = train_option_problem(key, text_of(value));
        require(problem.empty(), flag_of(key), ": ", problem);
    };
    auto check_signed = [&](const char* key, int64_t value) {
        require(value >= 0, flag_of(key), ": got ", value, ", expected ", expected(*range_of(key)));
        check(key, value);
    };
    check_signed("layers", o.layers), check_signed("heads", o.heads), check_signed("kv_heads", o.kv_heads);
    check_signed("dim", o.dim), check_signed("block_size", o.block_size), check_signed("batch_size", o.batch_size);
    check_signed("grad_accum", o.grad_accum), check_signed("steps", o.steps), check_signed("warmup", o.warmup);
    check_signed("eval_every", o.eval_every), check_signed("eval_batches", o.eval_batches);
    check_signed("checkpoint_every", o.checkpoint_every), check_signed("threads", o.threads);
    check("seed", o.seed);
    check("lr", o.lr);
    if (o.min_lr != -1.f) check("min_lr", o.min_lr);  // -1: lr / 10
    check("weight_decay", o.weight_decay), check("beta1", o.beta1), check("beta2", o.beta2);
    check("grad_clip", o.grad_clip), check("dropout", o.dropout), check("attention_dropout", o.attention_dropout);
    check("comm_timeout", o.comm_timeout);
    require(o.precision == "f32" || o.precision == "bf16", "--precision: got \"", o.precision,
            "\", expected f32 or bf16");
    require(o.dim % o.heads == 0, "--dim ", o.dim, " is not divisible by --heads ", o.heads);
    require(o.kv_heads == 0 || o.heads % o.kv_heads == 0, "--heads ", o.heads,
                 " is not divisible by --kv-heads ", o.kv_heads);
    require(!(o.resume && o.overwrite), "--resume and --overwrite contradict each other: continue the run in ",
                 o.out, ", or replace it");
}

// ---- the options a run records, and what a resumed run may change ----------------------------

namespace {

const char* arch_text(TrainArch a) { return a == TrainArch::gpt ? "gpt" : a == TrainArch::bert ? "bert" : "seq2seq"; }

// A path as recorded: absolute, so a resume from another working directory finds it.
std::string recorded_path(const std::string& path) {
    if (path.empty()) return path;
    std::error_code ec;
    const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : p.string();
}

}  // namespace

std::string train_options_to_json(const TrainOptions& o) {
    nlohmann::json j = {
        {"arch", arch_text(o.arch)}, {"data", recorded_path(o.data)}, {"tokenizer", recorded_path(o.tokenizer)},
        {"norm_placement", o.norm_placement}, {"layers", o.layers}, {"heads", o.heads}, {"kv_heads", o.kv_heads},
        {"dim", o.dim}, {"block_size", o.block_size}, {"batch_size", o.batch_size}, {"steps", o.steps},
        {"grad_accum", o.grad_accum}, {"lr", o.lr}, {"min_lr", o.min_lr}, {"warmup", o.warmup},
        {"weight_decay", o.weight_decay}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"grad_clip", o.grad_clip},
        {"dropout", o.dropout}, {"attention_dropout", o.attention_dropout}, {"eval_every", o.eval_every},
        {"eval_batches", o.eval_batches}, {"checkpoint_every", o.checkpoint_every}, {"seed", o.seed},
        {"comm_timeout", o.comm_timeout}, {"precision", o.precision}};
    return j.dump();
}

void check_resume_options(const TrainOptions& o, const TrainOptions& recorded, const std::string& checkpoint) {
    auto same = [&](const char* key, const std::string& given, const std::string& was) {
        require(given == was, "--resume: ", flag_of(key), " ", given.empty() ? "\"\"" : given,
                     " contradicts the checkpoint's ", was.empty() ? "\"\"" : was, " (", checkpoint,
                     "); a resumed run keeps its model, data and seed — leave the flag out, or start afresh with --overwrite");
    };
    same("arch", arch_text(o.arch), arch_text(recorded.arch));
    same("data", recorded_path(o.data), recorded.data);
    same("tokenizer", recorded_path(o.tokenizer), recorded.tokenizer);
    same("norm_placement", o.norm_placement, recorded.norm_placement);
    same("layers", text_of(o.layers), text_of(recorded.layers));
    same("heads", text_of(o.heads), text_of(recorded.heads));
    same("kv_heads", text_of(o.kv_heads), text_of(recorded.kv_heads));
    same("dim", text_of(o.dim), text_of(recorded.dim));
    same("block_size", text_of(o.block_size), text_of(recorded.block_size));
    same("dropout", text_of(o.dropout), text_of(recorded.dropout));
    same("attention_dropout", text_of(o.attention_dropout), text_of(recorded.attention_dropout));
    same("seed", text_of(o.seed), text_of(recorded.seed));
}

TrainOptions recorded_train_options(const std::string& out) {
    const std::string checkpoint = out + "/checkpoint.safetensors";
    require(fs::exists(checkpoint), "--resume: no checkpoint at ", checkpoint);
    const auto metadata = read_training_metadata(checkpoint);  // every field checked first
    auto it = metadata.find("train_options");
    require(it != metadata.end(), checkpoint, ": the checkpoint records no train_options");
    TrainOptions o = parse_train_options(it->second, checkpoint + " (metadata train_options)", TrainOptions{});
    o.out = out;
    return o;
}

}  // namespace attend
