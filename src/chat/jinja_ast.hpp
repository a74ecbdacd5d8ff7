// chat/jinja_ast.hpp — a parsed template: statements holding expressions.
//
// One node type per level, tagged by kind, rather than a class per construct: the evaluator
// switches on the kind, and the few fields each kind uses are listed beside it.
// Internal to src/chat.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.hpp"

namespace attend::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Literal,   // value
        Name,      // name
        List,      // args: items
        Tuple,     // args: items
        Dict,      // args: key, value, key, value, ...
        GetAttr,   // a.name (also a.0: name "0", index true)
        GetItem,   // a[b]: args[0]
        Slice,     // a[b:c:d]: args[0..2], each may be null
        Call,      // a(args, kwargs)
        Filter,    // a | name(args, kwargs); a null for a {% filter %} block's input
        Test,      // a is [not] name(args)   (negated)
        Unary,     // op (- + not) a
        Binary,    // a op b: + - * / // % ** ~ and or
        Compare,   // a ops[0] args[0] ops[1] args[1] ... (== != < <= > >= in notin)
        Conditional,  // args[0] if a else args[1] (args[1] may be null)
    };
    Kind kind;
    int line = 0;
    Value value;
    std::string name;
    ExprPtr a;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;
    bool negated = false;
    bool index = false;
    size_t height = 1;  // of the tree below: evaluating (and freeing) recurses this deep
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

// Where `set` and `for` store: names (several = tuple unpacking), or ns.attr.
struct Target {
    std::vector<std::string> names;
    std::string attribute;  // non-empty: names[0].attribute
};

struct Stmt {
    enum class Kind {
        Text,      // text
        Print,     // expr
        If,        // conditions[i] → bodies[i]; bodies.size() == conditions.size() + 1 when there is an else
        For,       // target in expr [if condition] : bodies[0], else bodies[1]
        Set,       // target = expr
        SetBlock,  // target = bodies[0] rendered, through filter (may be null)
        Macro,     // name(params = defaults) : bodies[0]
        CallBlock, // expr (a call) with caller = bodies[0] taking params
        FilterBlock,  // filter applied to bodies[0] rendered
        With,      // params = defaults: bodies[0]
        Break,
        Continue,
    };
    Kind kind;
    int line = 0;
    std::string text, name;
    ExprPtr expr, condition, filter;
    std::vector<ExprPtr> conditions;
    std::vector<Body> bodies;
    Target target;
    std::vector<std::string> params;
    std::vector<ExprPtr> defaults;  // one per param, null when none
    bool recursive = false;
};

}  // namespace attend::jinja
