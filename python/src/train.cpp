// python/src/train.cpp — attend.train(config or keyword arguments, on_step=callback).
//
// The options are `attend train --config`'s JSON keys (train/train_options.hpp's table), so
// one parser checks both: a dict and keyword arguments are merged (keywords win), written as
// JSON and read by parse_train_options, whose errors name "attend.train()" and the key.
// on_step(step, loss, lr) runs after every optimizer step with the GIL held; returning False
// stops the run there with a checkpoint (resume=True continues it). Ctrl-C stops it too (no
// checkpoint beyond the last one written) and raises KeyboardInterrupt.
#include <cmath>
#include <string>

#include "attend/train/trainer.hpp"
#include "bindings.hpp"

namespace attend::python {

void register_train(py::module_& m) {
    m.def(
        "train",
        [](const py::object& config, const py::object& on_step, const py::kwargs& kwargs) {
            py::dict options;
            if (!config.is_none()) {
                if (!py::isinstance<py::dict>(config)) throw py::type_error("train: config must be a dict");
                options.attr("update")(config);
            }
            options.attr("update")(kwargs);
            // How to run rather than what to train (the CLI's flags, not --config keys): taken
            // out here; the rest goes through the --config parser.
            const auto pop = [&](const char* key) {
                py::object v = options.attr("pop")(key, py::none());
                return v;
            };
            const py::object quiet = pop("quiet"), progress = pop("progress"), resume = pop("resume"),
                             overwrite = pop("overwrite"), stop_after = pop("stop_after");
            const std::string json = py::module_::import("json").attr("dumps")(options).cast<std::string>();
            TrainOptions o = parse_train_options(json, "attend.train()");
            if (!quiet.is_none()) o.quiet = quiet.cast<bool>();
            if (!progress.is_none()) o.progress = progress.cast<bool>() ? 1 : 0;
            if (!resume.is_none()) o.resume = resume.cast<bool>();
            if (!overwrite.is_none()) o.overwrite = overwrite.cast<bool>();
            if (!stop_after.is_none()) o.stop_after = stop_after.cast<int64_t>();
            check_train_options(o);
            if (!on_step.is_none() && !PyCallable_Check(on_step.ptr()))
                throw py::type_error("train: on_step must be callable (step, loss, lr) -> bool | None");
            o.on_step = [&on_step](int64_t step, float loss, float lr) {
                py::gil_scoped_acquire gil;
                check_signals();
                if (on_step.is_none()) return true;
                py::object keep_going = on_step(step, loss, lr);
                return keep_going.is_none() || keep_going.cast<bool>();
            };
            TrainResult r;
            {
                py::gil_scoped_release nogil;
                r = attend::train(o);
            }
            py::dict out;
            out["train_losses"] = r.train_losses;
            out["val_losses"] = r.val_losses;
            out["steps_done"] = r.steps_done;
            out["val_accuracy"] = std::isnan(r.val_accuracy) ? py::object(py::none()) : py::object(py::float_(r.val_accuracy));
            out["unigram_accuracy"] =
                std::isnan(r.unigram_accuracy) ? py::object(py::none()) : py::object(py::float_(r.unigram_accuracy));
            out["seconds"] = r.seconds;
            out["out"] = o.out;
            return out;
        },
        py::arg("config") = py::none(), py::kw_only(), py::arg("on_step") = py::none(), R"doc(
Trains a model as `attend train` does and returns a dict: train_losses (one per step),
val_losses [(step, loss)], steps_done, val_accuracy, unigram_accuracy, seconds, out.

Options are `attend train --config`'s keys, as a dict and/or keyword arguments: data, out,
arch ("gpt", "bert", "seq2seq"), tokenizer, layers, heads, kv_heads, dim, block_size,
batch_size, steps, lr, min_lr, warmup, weight_decay, grad_clip, dropout, eval_every,
eval_batches, seed, threads, precision ("f32", "bf16": bf16 mixed precision on CPUs with
AVX512-BF16), resume, overwrite, stop_after, quiet, progress, ...
on_step(step, loss, lr) is called after every step; returning False stops the run with a
checkpoint in `out` (train(..., resume=True) continues it). Ctrl-C raises KeyboardInterrupt.

>>> attend.train(data="input.txt", out="run", steps=100, quiet=True,
...              on_step=lambda step, loss, lr: print(step, loss))
)doc");
}

}  // namespace attend::python
