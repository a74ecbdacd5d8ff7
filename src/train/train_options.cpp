// train/train_options.cpp — `attend train --config FILE.json`: the options file, each value's
// type checked (train/trainer.hpp). Fuzzed by fuzz/train_options.cpp.
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "attend/error.hpp"
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
        else ATTEND_CHECK(false, path, ": unknown option \"", key, "\"");
    }
    return o;
}

}  // namespace attend
