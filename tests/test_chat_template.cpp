// Chat templates: attend's Jinja interpreter against Debian's python3-jinja2 set up as Hugging
// Face transformers sets it up — on the five real templates of the shared data (through the
// CLI, byte for byte), on small templates written for this test (tests/reference/
// chat_templates.py renders them at test time), and on hostile ones (one-line errors, bounded).
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>
#include <regex>

#include <nlohmann/json.hpp>

#include "attend/chat_template.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using attend::ChatRenderOptions;
using attend::ChatTemplate;
using attend::ChatTemplateError;
using attend::testing::read_file;
using attend::testing::run_cli;
using attend::testing::shared_data;
using attend::testing::shell_quote;
using attend::testing::TempDir;

namespace {

// Renders, or returns the error's what() prefixed with "ERROR ".
std::string render_or_error(const std::string& source, const nlohmann::json& messages = nlohmann::json::array(),
                            const ChatRenderOptions& options = {}) {
    try {
        return ChatTemplate::from_string(source, "t.jinja").render(messages, options);
    } catch (const ChatTemplateError& e) {
        return std::string("ERROR ") + e.what();
    }
}

// One line, located: "t.jinja:LINE: message".
void expect_one_line_error(const std::string& source, const nlohmann::json& messages = nlohmann::json::array()) {
    const std::string r = render_or_error(source, messages);
    ASSERT_EQ(r.rfind("ERROR t.jinja:", 0), 0u) << source.substr(0, 200) << " gave: " << r.substr(0, 200);
    EXPECT_EQ(r.find('\n'), std::string::npos) << r;
    EXPECT_LT(r.size(), 2000u);
}

}  // namespace

// All 70 expected results of ../shared/data/chat_templates (PROVENANCE.md), through the CLI.
TEST(ChatTemplateShared, RendersAsTransformers) {
    const fs::path root = shared_data("chat_templates");
    const nlohmann::json tokens = nlohmann::json::parse(read_file(root / "tokens.json"));
    const std::regex name_re("(.+)__(.+)__gen([01])\\.(txt|error)");
    int checked = 0, errors = 0;
    for (const auto& entry : fs::directory_iterator(root / "expected")) {
        const std::string file = entry.path().filename().string();
        std::smatch m;
        ASSERT_TRUE(std::regex_match(file, m, name_re)) << file;
        const std::string tmpl = m[1], conversation = m[2];
        ASSERT_TRUE(tokens.contains(tmpl)) << file;
        std::string args = "chat-template --template " + shell_quote((root / (tmpl + ".jinja")).string()) + " --messages " +
                           shell_quote((root / "cases" / (conversation + ".messages.json")).string()) +
                           (m[3] == "1" ? " --add-generation-prompt" : "") +
                           " --bos-token " + shell_quote(tokens[tmpl]["bos_token"].get<std::string>()) +
                           " --eos-token " + shell_quote(tokens[tmpl]["eos_token"].get<std::string>());
        const auto run = run_cli(args, {.stdin_path = "", .separate_stderr = true});
        const std::string expected = read_file(entry.path());
        if (m[4] == "txt") {
            EXPECT_EQ(run.status, 0) << file << ": " << run.error;
            EXPECT_EQ(run.output, expected) << file;
        } else {
            ++errors;
            EXPECT_NE(run.status, 0) << file;
            EXPECT_EQ(run.output, "") << file;
            EXPECT_NE(run.error.find(expected), std::string::npos) << file << ": " << run.error;
            EXPECT_EQ(std::count(run.error.begin(), run.error.end(), '\n'), 1) << run.error;
        }
        ++checked;
    }
    EXPECT_EQ(checked, 70);
    EXPECT_EQ(errors, 2);
}

// Templates attend was not written against: tests/reference/chat_templates.py's cases.
TEST(ChatTemplateReference, MatchesJinja2) {
    const std::string path = std::string(ATTEND_REFERENCE_DIR) + "/chat_templates.json";
    const nlohmann::ordered_json cases = nlohmann::ordered_json::parse(read_file(path));
    ASSERT_GE(cases.size(), 60u);
    size_t errors = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c["name"].get<std::string>());
        ChatRenderOptions options;
        options.add_generation_prompt = c["add_generation_prompt"].get<bool>();
        options.bos_token = c["bos_token"];
        options.eos_token = c["eos_token"];
        options.tools = c["tools"];
        std::string got;
        try {
            got = ChatTemplate::from_string(c["template"], c["name"]).render(c["messages"], options);
        } catch (const ChatTemplateError& e) {
            EXPECT_TRUE(c.contains("error")) << "attend failed: " << e.what();
            if (c.contains("error") && !c["error"].get<std::string>().empty()) {
                EXPECT_TRUE(e.raised());
                EXPECT_EQ(e.message(), c["error"].get<std::string>());
            }
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
            ++errors;
            continue;
        }
        ASSERT_FALSE(c.contains("error")) << "Jinja fails, attend rendered: " << got;
        EXPECT_EQ(got, c["expected"].get<std::string>());
    }
    EXPECT_GE(errors, 15u);
}

TEST(ChatTemplate, ErrorsAreOneLineWithTheLine) {
    EXPECT_EQ(render_or_error("a\nb\n{% if x %}\n{{ 1 + }}"), "ERROR t.jinja:4: expected an expression, got end of print statement");
    EXPECT_EQ(render_or_error("\n\n{{ nothing.attr }}"), "ERROR t.jinja:3: 'nothing' is undefined");
    EXPECT_EQ(render_or_error("{% for m in messages %}\n{{ raise_exception('bad\nrole: ' ~ m.role) }}{% endfor %}",
                              nlohmann::json::parse(R"([{"role": "robot"}])")),
              "ERROR t.jinja:2: bad role: robot");
    try {
        ChatTemplate::from_string("{{ raise_exception('stop here') }}", "x").render(nlohmann::json::array(), {});
        FAIL() << "no error";
    } catch (const ChatTemplateError& e) {
        EXPECT_TRUE(e.raised());
        EXPECT_EQ(e.message(), "stop here");
        EXPECT_EQ(e.line(), 1);
    }
    EXPECT_THROW(ChatTemplate::from_string("x").render(nlohmann::json::object(), {}), ChatTemplateError);
}

TEST(ChatTemplate, MalformedTemplatesFailCleanly) {
    for (const char* source :
         {"{%", "{{", "{#", "{% if %}", "{% for %}", "{% for x in %}{% endfor %}", "{% endif %}", "{% else %}",
          "{% set %}", "{% set x %}", "{% macro %}", "{% macro f( %}", "{{ ) }}", "{{ ] }}", "{{ } }}", "{{ 'unterminated }}",
          "{{ \"x }}", "{{ 1 2 }}", "{{ a. }}", "{{ a[ }}", "{{ a | }}", "{{ x is }}", "{% for x in y %}{% break", "{% break %}",
          "{{ 0777 }}", "{{ 99999999999999999999 }}", "{{ '\\x4' }}", "{{ @ }}", "{{ \xff\xfe }}", "{% raw %}never ends",
          "{% filter %}x{% endfilter %}", "{% call %}{% endcall %}", "{% include 'x' %}", "{% extends 'x' %}"})
        expect_one_line_error(source);
}

TEST(ChatTemplate, RandomTemplatesNeverCrash) {
    // Fragments glued at random: every outcome is a rendering or a one-line error.
    const std::vector<std::string> parts = {
        "{%", "%}", "{{", "}}", "{#", "#}", "-", "+", "if", "for", "in", "endif", "endfor", "else", "set", "=", "x", "messages",
        "loop", ".", "index", "[", "]", "(", ")", "{", "}", ":", ",", "'s'", "\"t\"", "1", "2.5", "|", "trim", "tojson", "is",
        "not", "defined", "and", "or", "~", "*", "**", "/", "//", "%", " ", "\n", "namespace", "macro", "endmacro", "raw",
        "endraw", "range", "(9)", "length", "join", "items()", "none", "true"};
    std::mt19937 rng(12345);
    const auto messages = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
    for (int round = 0; round < 3000; ++round) {
        std::string source;
        const int n = 1 + int(rng() % 24);
        for (int i = 0; i < n; ++i) source += parts[rng() % parts.size()];
        const std::string r = render_or_error(source, messages);
        if (r.rfind("ERROR ", 0) == 0) {
            EXPECT_EQ(r.find('\n'), std::string::npos) << source;
        }
    }
}

TEST(ChatTemplate, HostileTemplatesAreBounded) {
    const auto started = std::chrono::steady_clock::now();
    std::string deep_if, deep_parens, deep_list, long_chain;
    for (int i = 0; i < 5000; ++i) deep_if += "{% if true %}";
    for (int i = 0; i < 100000; ++i) deep_parens += "(";
    for (int i = 0; i < 100000; ++i) deep_list += "[";
    for (int i = 0; i < 200000; ++i) long_chain += "1+";
    expect_one_line_error(deep_if + "x");
    expect_one_line_error("{{ " + deep_parens + "1 }}");
    expect_one_line_error("{{ " + deep_list + " }}");
    expect_one_line_error("{{ " + long_chain + "1 }}");
    expect_one_line_error("{{ " + std::string(100000, '-') + "1 }}");
    expect_one_line_error("{{ " + std::string(100000, '~') + " }}");
    // Loops: a trillion iterations, or a few with a huge body, stop at the step budget.
    // (a body of many cheap steps reaches the budget in fewer iterations: quicker under ASan)
    expect_one_line_error("{% for i in range(1000000) %}{% for j in range(1000000) %}{{ 1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1 }}{% endfor %}{% endfor %}");
    expect_one_line_error("{{ range(10000000000) | length }}");
    expect_one_line_error("{% for i in range(1000) %}{{ range(999999) | sort | length }}{% endfor %}");
    // Memory: doubling strings and lists, multiplication, output size.
    expect_one_line_error("{% set ns = namespace(s='xx') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}");
    expect_one_line_error("{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}");
    expect_one_line_error("{{ 'x' * 10000000000 }}");
    expect_one_line_error("{{ [1] * 10000000000 }}");
    expect_one_line_error("{% for i in range(1000) %}{{ 'x' * 1000000 }}{% endfor %}");
    expect_one_line_error("{{ 'abcdefgh' | replace('', 'x' * 10000000) }}");
    // Nesting values and recursion.
    expect_one_line_error("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}");
    expect_one_line_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}");
    expect_one_line_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    expect_one_line_error("{{ 2 ** 64 }}");
    expect_one_line_error("{{ 9223372036854775807 + 1 }}");
    std::string deep_json;
    for (int i = 0; i < 2000; ++i) deep_json += "[";
    for (int i = 0; i < 2000; ++i) deep_json += "]";
    expect_one_line_error("{{ messages }}", nlohmann::json::parse(deep_json));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_LT(seconds, 120.0);  // each stops at a limit, not at the end of the work
}

TEST(ChatTemplate, StrftimeNowIsTheLocalDate) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    const std::string year = std::to_string(local.tm_year + 1900);
    EXPECT_EQ(render_or_error("{{ strftime_now('%Y') }}"), year);
    EXPECT_EQ(render_or_error("{{ strftime_now('') }}"), "");
}

TEST(ChatTemplate, FromModelDir) {
    TempDir tmp;
    EXPECT_FALSE(ChatTemplate::from_model_dir(tmp.dir()).has_value());
    // tokenizer_config.json: the [{name, template}] form, AddedToken-style bos, plain eos.
    tmp.write("tokenizer_config.json", R"({
        "bos_token": {"content": "<B>", "lstrip": false}, "eos_token": "<E>",
        "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}]})");
    auto t = ChatTemplate::from_model_dir(tmp.dir());
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->bos_token(), "<B>");
    EXPECT_EQ(t->eos_token(), "<E>");
    const auto messages = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
    EXPECT_EQ(t->render(messages, t->default_options()), "<B>hi<E>");
    // chat_template.jinja wins over the config's template; the tokens still come from the config.
    tmp.write("chat_template.jinja", "J{{ bos_token }}{{ messages | length }}\n");
    t = ChatTemplate::from_model_dir(tmp.dir());
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->render(messages, t->default_options()), "J<B>1");
    fs::remove(tmp.dir() / "chat_template.jinja");
    tmp.write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"}]})");
    try {
        ChatTemplate::from_model_dir(tmp.dir());
        FAIL() << "no error";
    } catch (const attend::Error& e) {
        EXPECT_NE(std::string(e.what()).find("no template named \"default\" (has: tool_use)"), std::string::npos) << e.what();
    }
    tmp.write("tokenizer_config.json", "{not json");
    EXPECT_THROW(ChatTemplate::from_model_dir(tmp.dir()), attend::Error);
}

TEST(ChatTemplateCli, ModelDirToolsAndErrors) {
    TempDir tmp;
    tmp.write("model/tokenizer_config.json", R"({"bos_token": "<s>", "eos_token": null,
        "chat_template": "{{ bos_token }}{% for t in tools or [] %}{{ t.function.name }};{% endfor %}{% for m in messages %}{{ m.role }}:{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}A:{% endif %}"})");
    const std::string messages = tmp.write("m.json", R"([{"role": "user", "content": "héllo"}])");
    const std::string tools = tmp.write("tools.json", R"([{"type": "function", "function": {"name": "f"}}])");
    auto run = run_cli("chat-template --model " + shell_quote(tmp.path("model")) + " --messages " + shell_quote(messages) +
                       " --add-generation-prompt --tools " + shell_quote(tools));
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(run.output, "<s>f;user:héllo\nA:");
    run = run_cli("chat-template --model " + shell_quote(tmp.path("model")) + " --messages " + shell_quote(messages) +
                  " --bos-token ''");
    EXPECT_EQ(run.output, "user:héllo\n");
    // A folder without a template, a bad messages file, a raising template: one-line errors.
    fs::create_directories(tmp.dir() / "empty");
    run = run_cli("chat-template --model " + shell_quote(tmp.path("empty")) + " --messages " + shell_quote(messages));
    EXPECT_NE(run.status, 0);
    EXPECT_NE(run.output.find("no chat template"), std::string::npos) << run.output;
    const std::string bad = tmp.write("bad.json", R"({"role": "user"})");
    run = run_cli("chat-template --model " + shell_quote(tmp.path("model")) + " --messages " + shell_quote(bad));
    EXPECT_NE(run.status, 0);
    EXPECT_NE(run.output.find("expected a JSON array"), std::string::npos) << run.output;
    const std::string raising = tmp.write("r.jinja", "{{ raise_exception('nope: ' ~ messages[0].role) }}");
    run = run_cli("chat-template --template " + shell_quote(raising) + " --messages " + shell_quote(messages),
                  {.stdin_path = "", .separate_stderr = true});
    EXPECT_NE(run.status, 0);
    EXPECT_EQ(run.output, "");
    EXPECT_EQ(run.error, "attend: error: " + raising + ":1: nope: user\n");
    run = run_cli("chat-template --messages " + shell_quote(messages));
    EXPECT_NE(run.status, 0);
}
