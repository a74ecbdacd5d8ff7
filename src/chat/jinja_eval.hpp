// chat/jinja_eval.hpp — renders a parsed template: runs the statements, evaluates the
// expressions with Python's semantics, and keeps every render inside the Limits.
//
// Scopes are frames linked to their parent: a `for` iteration, a macro call and a `with` each
// open one, so `{% set %}` inside them does not leak out (Jinja's rule; namespace() is the way
// out), while `if` opens none. Internal to src/chat.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja_ast.hpp"
#include "chat/jinja_error.hpp"
#include "chat/jinja_value.hpp"

namespace attend::jinja {

struct Frame {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Frame> parent;
};

class Evaluator {
public:
    Evaluator(const Limits& limits, std::unordered_map<std::string, Value> variables);
    ~Evaluator();  // breaks the reference cycles below
    Value make_namespace();

    std::string render(const Body& body);

    Value eval(const Expr& e);  // charges the step budget, then eval_node
    Value call(const Value& callee, CallArgs& args, int line);

    // Budgets: every statement, expression and element a filter touches spends a step.
    void spend(size_t steps);
    Value make_string(std::string s) const;  // fails past the size limit
    Value make_list(List items, bool tuple = false) const;
    const Limits& limits() const { return limits_; }

private:
    enum class Flow { Normal, Break, Continue };
    Flow exec(const Body& body, std::string& out);
    Flow exec(const Stmt& s, std::string& out);
    void exec_for(const Stmt& s, std::string& out);
    void assign(const Target& target, Value value, int line);
    Value eval_node(const Expr& e);
    Value lookup(const std::string& name) const;
    Value make_macro(const Stmt& s);
    Value filter(const Expr& e, Value input);
    void append(std::string& out, const std::string& text) const;

    const Limits& limits_;
    std::shared_ptr<Frame> frame_;
    size_t steps_ = 0, depth_ = 0;
    // Reference cycles a render can make (a namespace holding itself, a macro and the frame it
    // closes over), broken when the render ends so they are freed.
    std::vector<std::shared_ptr<Namespace>> namespaces_;
    std::vector<std::shared_ptr<Frame>> macro_frames_;
};

// jinja_access.cpp
Value get_attribute(const Value& obj, const std::string& name);  // obj.name, as Jinja's getattr
Value get_item(const Value& obj, const Value& key);              // obj[key], as Jinja's getitem
// jinja_filters.cpp ("__slice__" is a[start:stop:step])
Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args);
// jinja_tests.cpp
bool apply_test(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args);
// jinja_globals.cpp: range, namespace, dict, raise_exception, strftime_now
std::unordered_map<std::string, Value> make_globals();
// jinja_access.cpp: the items a `for` loop or a filter walks: list items, dict keys, string characters.
List iterate(const Value& v);
std::string undefined_message(const Value& v);

}  // namespace attend::jinja
