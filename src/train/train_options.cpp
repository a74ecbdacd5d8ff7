// train/train_options.cpp — the table of `attend train`'s options and everything read from it:
// the defaults, the --config file (each value's type and range checked; fuzzed by
// fuzz/train_options.cpp), the range check of any caller, the options a run records in its
// checkpoint, and what a resumed run may change (train/train_options.hpp).
#include "attend/train/train_options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/data.hpp"
#include "core/require.hpp"
#include "io/json_fields.hpp"

namespace attend {

namespace fs = std::filesystem;

namespace {

constexpr double kHuge = 1e300;     // "no upper bound"
constexpr double kMaxCount = 1e12;  // steps and the like: far beyond any run, far below 2^63
constexpr double kMaxSeed = 18446744073709551615.0;  // 2^64 - 1

using O = TrainOptions;

// The type of the member a table row's field points to.
template <class P> struct Member;
template <class T> struct Member<T O::*> { using type = T; };
template <class P> using member_type = typename Member<P>::type;

// Rows, in --help's order. Builders keep each row on a line or two.
TrainOption text(const char* key, std::string O::*field, const char* help, const char* choices = nullptr) {
    TrainOption r{key, field, "", help};
    r.choices = choices;
    return r;
}
template <class T>
TrainOption count(const char* key, T O::*field, const char* fallback, double min, double max, const char* meaning,
                  const char* help) {
    TrainOption r{key, field, fallback, help, meaning, min, max};
    return r;
}
TrainOption real(const char* key, float O::*field, const char* fallback, double min, double max, bool min_open,
                 bool max_open, const char* meaning, const char* help) {
    TrainOption r{key, field, fallback, help, meaning, min, max, min_open, max_open};
    return r;
}
TrainOption flag(const char* key, bool O::*field, const char* help) { return TrainOption{key, field, "false", help}; }
TrainOption recorded(TrainOption r) { return r.recorded = true, r; }
TrainOption kept(TrainOption r) { return r.recorded = r.kept = true, r; }  // kept on resume: recorded too
TrainOption path(TrainOption r) { return r.path = true, r; }

std::vector<TrainOption> make_table() {
    TrainOption arch{"arch", &O::arch, "gpt", "gpt (causal LM on text) | bert (masked LM on text) | seq2seq (TSV pairs)"};
    arch.choices = "gpt|bert|seq2seq";
    TrainOption min_lr = real("min_lr", &O::min_lr, "-1", 0, kHuge, false, false, "a learning rate",
                              "final learning rate of the cosine decay (default lr/10)");
    min_lr.unset = "-1";
    TrainOption precision{"precision", &O::precision, "f32",
                          "f32 or bf16: the linear layers' products in bf16 (fp32 weights, optimizer and sums; needs a "
                          "CPU with AVX512-BF16, refused otherwise; on --resume, the run's own unless given)"};
    precision.choices = "f32|bf16";
    return {
        kept(arch),
        kept(path(text("data", &O::data,
                       "text file (gpt, bert), FILE.bin of uint16 tokens from `attend tokenize --out` (gpt, bert; "
                       "with --tokenizer), or tab-separated source/target lines (seq2seq); on --resume, the run's own"))),
        kept(path(text("tokenizer", &O::tokenizer,
                       "tokenizer file or folder (vocab.json, vocab.txt, tokenizer.json, tokenizer.bin, ...); "
                       "default: the characters of the data"))),
        text("out", &O::out, "output folder: checkpoint, model, loss.csv, loss.png (locked while the run goes on)"),
        kept(count("layers", &O::layers, "4", 1, 1024, "a layer count",
                   "transformer layers (encoder and decoder each, for seq2seq)")),
        kept(count("heads", &O::heads, "4", 1, 1024, "a head count", "attention heads")),
        kept(count("kv_heads", &O::kv_heads, "0", 0, 1024, "a key/value head count (0: as many as heads)",
                   "key/value heads (GQA); 0 = heads")),
        kept(count("dim", &O::dim, "128", 1, 65536, "a model width", "model width d_model")),
        kept(count("block_size", &O::block_size, "64", 2, 1 << 20, "a context length", "context length")),
        kept(text("norm_placement", &O::norm_placement,
                  "pre or post: LayerNorm before or after each sub-layer (default: GPT and seq2seq pre, BERT post)",
                  "|pre|post")),
        recorded(count("batch_size", &O::batch_size, "12", 1, 1 << 20, "a batch size",
                       "sequences per micro-batch (under MPI: over all ranks)")),
        recorded(count("grad_accum", &O::grad_accum, "1", 1, 1 << 20, "a micro-batch count",
                       "micro-batches per optimizer step (the step's batch: batch-size × grad-accum sequences)")),
        recorded(count("steps", &O::steps, "2000", 1, kMaxCount, "a step count",
                       "optimizer steps (on --resume: may grow, to train longer)")),
        recorded(real("lr", &O::lr, "0.001", 0, kHuge, true, false, "a learning rate", "peak learning rate")),
        recorded(min_lr),
        recorded(count("warmup", &O::warmup, "100", 0, kMaxCount, "a step count", "linear warm-up steps")),
        recorded(real("weight_decay", &O::weight_decay, "0.1", 0, kHuge, false, false, "a weight decay",
                      "AdamW decoupled weight decay (matrices only)")),
        recorded(real("beta1", &O::beta1, "0.9", 0, 1, false, true, "an Adam beta", "AdamW β1")),
        recorded(real("beta2", &O::beta2, "0.99", 0, 1, false, true, "an Adam beta", "AdamW β2")),
        recorded(real("grad_clip", &O::grad_clip, "1", 0, kHuge, false, false, "a gradient norm (0: off)",
                      "clip the global gradient norm (0: off)")),
        kept(real("dropout", &O::dropout, "0", 0, 1, false, true, "a dropout probability",
                  "dropout probability (embeddings, sub-layer outputs)")),
        kept(real("attention_dropout", &O::attention_dropout, "0", 0, 1, false, true, "a dropout probability",
                  "dropout probability on the attention weights")),
        recorded(count("eval_every", &O::eval_every, "250", 0, kMaxCount, "a step count (0: at the end only)",
                       "evaluate, log and checkpoint every N steps (0: at the end only)")),
        recorded(count("eval_batches", &O::eval_batches, "20", 1, 1 << 20, "a batch count",
                       "validation batches per evaluation")),
        recorded(count("checkpoint_every", &O::checkpoint_every, "0", 0, kMaxCount,
                       "a step count (0: at each evaluation)", "checkpoint every N steps (0: at each evaluation)")),
        kept(count("seed", &O::seed, "1337", 0, kMaxSeed, "a seed", "random seed (initialisation, batches, dropout)")),
        count("threads", &O::threads, "0", 0, 4096, "a thread count (0: all cores)",
              "threads (0: all cores; under MPI, shared among the machine's ranks)"),
        recorded(real("comm_timeout", &O::comm_timeout, "600", 0, 1e6, true, false, "a wait in seconds",
                      "under MPI: seconds a rank waits for the others before stopping the run, naming the missing rank")),
        recorded(precision),
        flag("resume", &O::resume,
             "continue from OUT/checkpoint.safetensors with the options it records; flags that shape the model, the "
             "data or the seed must agree with them, the schedule's (--steps, --lr, ...) may change"),
        flag("overwrite", &O::overwrite, "replace the run already in OUT (a fresh run refuses one otherwise)"),
        flag("quiet", &O::quiet, "no progress output"),
    };
}

std::string number(double v) {
    if (v >= kMaxSeed) return "18446744073709551615";
    char buf[40];
    std::snprintf(buf, sizeof buf, v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%.9g", v);
    return buf;
}

bool is_integer(const TrainOption& r) {
    return !std::holds_alternative<float O::*>(r.field) && !r.is_switch() &&
           !std::holds_alternative<std::string O::*>(r.field) && !std::holds_alternative<TrainArch O::*>(r.field);
}
bool is_number(const TrainOption& r) { return is_integer(r) || std::holds_alternative<float O::*>(r.field); }

std::string expected(const TrainOption& r) {
    if (r.is_switch()) return "true or false";
    if (r.choices) {
        std::string s = "one of ";
        for (const char* c = r.choices; *c; ++c) s += *c == '|' ? std::string(", ") : std::string(1, *c);
        return r.choices[0] == '|' ? s.insert(7, "\"\" (the default)") : s;
    }
    std::string s = std::string(r.meaning) + ": " + (is_integer(r) ? "a whole number" : "a finite number");
    if (r.max >= kHuge) return s + (r.min_open ? " > " : " >= ") + number(r.min);
    return s + " in " + (r.min_open ? "(" : "[") + number(r.min) + ", " + number(r.max) + (r.max_open ? ")" : "]");
}

bool in_range(const TrainOption& r, double v) {
    return (r.min_open ? v > r.min : v >= r.min) && (r.max_open ? v < r.max : v <= r.max);
}

// Text → the field, once checked (or for the table's own defaults).
void assign(O& o, const TrainOption& r, const std::string& value) {
    std::visit(
        [&](auto field) {
            using T = member_type<decltype(field)>;
            if constexpr (std::is_same_v<T, std::string>) o.*field = value;
            else if constexpr (std::is_same_v<T, TrainArch>) o.*field = train_arch(value);
            else if constexpr (std::is_same_v<T, bool>) o.*field = value == "true";
            else if constexpr (std::is_floating_point_v<T>) o.*field = std::strtof(value.c_str(), nullptr);  // rounded once
            else if (!value.empty() && value[0] == '-') o.*field = T(std::strtoll(value.c_str(), nullptr, 10));
            else o.*field = T(std::strtoull(value.c_str(), nullptr, 10));
        },
        r.field);
}

// A path as recorded: absolute, so a resume from another working directory finds it.
std::string recorded_path(const std::string& path) {
    if (path.empty()) return path;
    std::error_code ec;
    const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : p.string();
}

}  // namespace

const std::vector<TrainOption>& train_option_table() {
    static const std::vector<TrainOption> table = make_table();
    return table;
}

TrainOptions::TrainOptions() {
    for (const TrainOption& r : train_option_table()) assign(*this, r, r.default_text);
}

std::string TrainOption::flag() const {
    std::string flag = std::string("--") + key;
    for (char& c : flag)
        if (c == '_') c = '-';
    return flag;
}

const TrainOption* find_train_option(const std::string& name) {
    for (const TrainOption& r : train_option_table())
        if (name == r.key || name == r.flag()) return &r;
    return nullptr;
}

const char* train_arch_name(TrainArch a) {
    return a == TrainArch::gpt ? "gpt" : a == TrainArch::bert ? "bert" : "seq2seq";
}

TrainArch train_arch(const std::string& name) {
    if (name == "gpt") return TrainArch::gpt;
    if (name == "bert") return TrainArch::bert;
    if (name == "seq2seq") return TrainArch::seq2seq;
    require(false, "unknown --arch \"", name, "\" (known: gpt, bert, seq2seq)");
    return TrainArch::gpt;
}

std::string train_option_problem(const TrainOption& r, const std::string& text, bool unset_ok) {
    if (unset_ok && r.unset && text == r.unset) return "";
    const std::string got = "got " + (text.empty() ? std::string("\"\"") : text) + ", expected " + expected(r);
    if (r.is_switch()) return text == "true" || text == "false" ? "" : got;
    if (r.choices) {
        for (const char *c = r.choices, *start = c;; ++c)
            if (*c == '|' || *c == 0) {
                if (text == std::string(start, c)) return "";
                if (*c == 0) return got;
                start = c + 1;
            }
    }
    if (!is_number(r)) return "";
    double value = 0;
    bool parsed = false;
    if (is_integer(r)) {
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
    return parsed && in_range(r, value) ? "" : got;
}

std::string train_option_problem(const std::string& key, const std::string& text) {
    const TrainOption* r = find_train_option(key);
    return r ? train_option_problem(*r, text) : "";
}

void set_train_option(TrainOptions& o, const TrainOption& r, const std::string& text) {
    const std::string problem = train_option_problem(r, text);
    require(problem.empty(), r.flag(), ": ", problem);
    assign(o, r, text);
}

std::string train_option_text(const TrainOptions& o, const TrainOption& r) {
    return std::visit(
        [&](auto field) -> std::string {
            using T = member_type<decltype(field)>;
            if constexpr (std::is_same_v<T, std::string>) return o.*field;
            else if constexpr (std::is_same_v<T, TrainArch>) return train_arch_name(o.*field);
            else if constexpr (std::is_same_v<T, bool>) return o.*field ? "true" : "false";
            else if constexpr (std::is_floating_point_v<T>) return number(double(o.*field));
            else return std::to_string(o.*field);
        },
        r.field);
}

// ---- the --config file, and the checkpoint's record ------------------------------------------

TrainOptions read_train_options(const std::string& path, TrainOptions o) {
    return parse_train_options(read_text_file(path), path, std::move(o));
}

TrainOptions parse_train_options(const std::string& json_text, const std::string& path, TrainOptions o) {
    const nlohmann::json j = parse_json_object(json_text, path);
    for (auto item = j.begin(); item != j.end(); ++item) {
        const std::string& key = item.key();
        const nlohmann::json& value = item.value();
        const TrainOption* r = find_train_option(key);
        require(r != nullptr && key == r->key, path, ": unknown option \"", key, "\"");
        // The type first (io/json_fields.hpp's message), then the value as a flag would spell
        // it through the flags' own check, so that the range is the flags' too.
        std::string text;
        std::visit(
            [&](auto field) {
                using T = member_type<decltype(field)>;
                if constexpr (std::is_same_v<T, bool>) text = json_boolean(value, path, key) ? "true" : "false";
                else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, TrainArch>)
                    text = json_string(value, path, key);
                else if constexpr (std::is_floating_point_v<T>) text = number(json_number(value, path, key));
                else if constexpr (std::is_unsigned_v<T>)  // above 2^63 too (a seed)
                    text = value.is_number_unsigned() ? std::to_string(value.get<uint64_t>())
                                                      : std::to_string(json_integer(value, path, key, 0));
                else text = std::to_string(json_integer(value, path, key, std::numeric_limits<T>::min(),
                                                         std::numeric_limits<T>::max()));
            },
            r->field);
        const std::string problem = train_option_problem(*r, text, true);
        require(problem.empty(), path, ": field \"", key, "\" (", r->flag(), "): ", problem);
        if (std::holds_alternative<float O::*>(r->field))  // the JSON number itself, not its text
            o.*std::get<float O::*>(r->field) = float(value.get<double>());
        else assign(o, *r, text);
    }
    return o;
}

void check_train_options(const TrainOptions& o) {
    for (const TrainOption& r : train_option_table()) {
        const std::string value = train_option_text(o, r);
        const std::string problem = train_option_problem(r, value, true);
        require(problem.empty(), r.flag(), ": ", problem);
    }
    require(o.dim % o.heads == 0, "--dim ", o.dim, " is not divisible by --heads ", o.heads);
    require(o.kv_heads == 0 || o.heads % o.kv_heads == 0, "--heads ", o.heads, " is not divisible by --kv-heads ",
            o.kv_heads);
    require(!(o.resume && o.overwrite), "--resume and --overwrite contradict each other: continue the run in ", o.out,
            ", or replace it");
}

std::string train_options_to_json(const TrainOptions& o) {
    nlohmann::json j = nlohmann::json::object();
    for (const TrainOption& r : train_option_table()) {
        if (!r.recorded) continue;
        std::visit(
            [&](auto field) {
                using T = member_type<decltype(field)>;
                if constexpr (std::is_same_v<T, TrainArch>) j[r.key] = train_arch_name(o.*field);
                else if constexpr (std::is_same_v<T, std::string>) j[r.key] = r.path ? recorded_path(o.*field) : o.*field;
                else if constexpr (std::is_floating_point_v<T>) j[r.key] = double(o.*field);
                else j[r.key] = o.*field;
            },
            r.field);
    }
    return j.dump();
}

void check_resume_options(const TrainOptions& o, const TrainOptions& recorded, const std::string& checkpoint) {
    for (const TrainOption& r : train_option_table()) {
        if (!r.kept) continue;
        const std::string given = r.path ? recorded_path(train_option_text(o, r)) : train_option_text(o, r);
        const std::string was = train_option_text(recorded, r);
        require(given == was, "--resume: ", r.flag(), " ", given.empty() ? "\"\"" : given,
                " contradicts the checkpoint's ", was.empty() ? "\"\"" : was, " (", checkpoint,
                "); a resumed run keeps its model, data and seed — leave the flag out, or start afresh with "
                "--overwrite");
    }
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
