// tools/attend/train.cpp — `attend train`: flags (or a JSON config, or on --resume the options
// the checkpoint records) → train() → a model folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>

#include "attend/profile.hpp"
#include "attend/train/trainer.hpp"
#include "commands.hpp"

namespace attend::cli {

namespace {

// Each flag's range is the option table's (train/train_options.hpp), the one place that also
// checks --config files and library callers.
CLI::Validator train_check(const TrainOption& option) {
    return CLI::Validator([&option](std::string& value) { return train_option_problem(option, value); }, "",
                          option.key);
}

// What --help says a flag takes.
const char* type_name(float TrainOptions::*) { return "FLOAT"; }
const char* type_name(std::string TrainOptions::*) { return "TEXT"; }
const char* type_name(TrainArch TrainOptions::*) { return "TEXT"; }
const char* type_name(bool TrainOptions::*) { return ""; }
template <class Integer>
const char* type_name(Integer TrainOptions::*) { return "INT"; }

}  // namespace

void register_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "train a GPT, BERT (masked LM) or seq2seq Transformer from scratch");
    // Every option of the table as a flag, its text kept until the callback: a flag given wins
    // over --config, which wins over (on --resume) the checkpoint's record, over the defaults.
    auto given = std::make_shared<std::map<std::string, std::string>>();  // key → the flag's text
    auto switches = std::make_shared<std::map<std::string, bool>>();
    auto config = std::make_shared<std::string>();
    auto profiled = std::make_shared<bool>(false);
    for (const TrainOption& option : train_option_table()) {
        if (option.is_switch()) {
            cmd->add_flag(option.flag(), (*switches)[option.key], option.help);
            continue;
        }
        CLI::Option* flag = cmd->add_option(option.flag(), (*given)[option.key], option.help)->check(train_check(option));
        std::visit([flag](auto field) { flag->type_name(type_name(field)); }, option.field);
        if (*option.default_text && !option.unset) flag->default_str(option.default_text);
        if (option.key == std::string("out"))  // --help lists --config right after --out, as it did
            cmd->add_option("--config", *config, "JSON file of options (keys as the flags, with _ for -); flags given too win");
    }
    add_profile_option(cmd, *profiled);
    cmd->callback([cmd, given, switches, config, profiled] {  // (holding `switches`: the flags point into it)
        auto flag_given = [&](const TrainOption& option) { return cmd->count(option.flag()) > 0; };
        const TrainOption& resume = *find_train_option("resume");
        const TrainOption& out_option = *find_train_option("out");
        TrainOptions o;
        if (!config->empty()) o = read_train_options(*config, TrainOptions{});
        // The file's own "out" and "resume" say where (and whether) to resume.
        const std::string out = flag_given(out_option) ? given->at("out") : o.out;
        if (o.resume || flag_given(resume)) {
            if (out.empty()) throw CLI::RequiredError("--out (or \"out\" in --config)");
            o = recorded_train_options(out);
            if (!config->empty()) o = read_train_options(*config, o);
        }
        for (const TrainOption& option : train_option_table())
            if (flag_given(option)) set_train_option(o, option, option.is_switch() ? "true" : given->at(option.key));
        if (o.out.empty()) throw CLI::RequiredError("--out (or \"out\" in --config)");
        if (o.data.empty()) throw CLI::RequiredError("--data (or \"data\" in --config)");
        profile::enable(*profiled);
        const TrainResult r = train(o);
        profile::enable(false);
        if (r.rank != 0) return;  // under MPI, rank 0 alone reports
        if (!o.quiet) {
            std::fprintf(stderr, "done: %lld steps in %.1f s", (long long)r.steps_done, r.seconds);
            if (!r.val_losses.empty()) std::fprintf(stderr, ", final val loss %.4f", r.val_losses.back().second);
            std::fprintf(stderr, "; model in %s\n", o.out.c_str());
        }
        if (*profiled) print_profile();
    });
}

}  // namespace attend::cli
