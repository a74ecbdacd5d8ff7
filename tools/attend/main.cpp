// tools/attend/main.cpp — the attend command line: one subcommand per file in this folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "attend/cpu_features.hpp"
#include "attend/error.hpp"
#include "attend/train/distributed.hpp"
#include "attend/version.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"attend — transformers from first principles: define, train, run and explain them"};
    app.set_version_flag("--version", std::string("attend ") + attend::version() + "\n" + attend::mpi_support());
    app.require_subcommand(1);
    // A bad command line is one line on stderr, like every other error (CLI11's own adds a
    // second, "Run with --help ..."): the flag, the value, what was expected.
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
        return std::string("attend: error: ") + e.what() + " (see --help)\n";
    });
    attend::cli::register_explain(app);
    attend::cli::register_demo(app);
    attend::cli::register_train(app);
    attend::cli::register_generate(app);
    attend::cli::register_tokenize(app);
    attend::cli::register_perplexity(app);
    attend::cli::register_convert(app);
    attend::cli::register_encode(app);
    attend::cli::register_viz(app);
    attend::cli::register_bench(app);
    attend::cli::register_chat_template(app);
    attend::cli::register_serve(app);
    try {
        attend::check_max_isa_setting();  // a bad ATTEND_MAX_ISA fails here, in one line
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "attend: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
