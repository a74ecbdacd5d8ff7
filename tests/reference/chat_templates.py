"""Expected renderings of small Jinja templates attend's interpreter has not been tuned on,
computed with Debian's python3-jinja2 set up as Hugging Face transformers sets it up
(jinja2.sandbox.ImmutableSandboxedEnvironment, trim_blocks + lstrip_blocks, loopcontrols,
tojson = json.dumps(ensure_ascii=False), raise_exception, strftime_now).

Writes <--out without its suffix>.json: a list of cases {name, template, messages,
add_generation_prompt, bos_token, eos_token, tools, expected | error}. `error` is the message
for raise_exception, or "" for any other Jinja error (syntax, undefined, type): attend must
fail on those too. tests/test_chat_template.cpp renders each case with attend::ChatTemplate.
The CTest fixture passes --out NAME.safetensors, as to the PyTorch references; this script
needs no torch.
"""
import argparse
import json
import os
import sys

import jinja2
import jinja2.exceptions
import jinja2.ext
import jinja2.sandbox


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):  # a fixed clock: attend's test checks the date shape, not the value
        return "STRFTIME(" + format + ")"

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


U = [{"role": "user", "content": "Hi there"}]
SUA = [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": "What is 2+2?"},
       {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3? ünï 😀"}]
DATA = [{"role": "user", "content": "x", "n": 7, "f": 2.5, "nums": [3, 1, 2], "tags": ["b", "A", "c", "a"],
         "d": {"z": 1, "a": [1, {"k": None}], "m": "é\"\\\n"}, "flag": True, "empty": "", "none": None}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather — now",
                                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                         "required": ["city"]}}}]

# (name, template, messages, extra render arguments)
CASES = [
    # ---- whitespace control: trim_blocks, lstrip_blocks, -, + ----
    ("ws_trim_lstrip", "{% for m in messages %}\n  {% if m.role == 'user' %}\n    U:{{ m.content }}\n  {% endif %}\n{% endfor %}\nend\n", SUA, {}),
    ("ws_minus", "a  {%- if true -%}  b  {%- endif -%}  c\n  {{- ' d ' -}}  \n e", U, {}),
    ("ws_plus", "x\n    {%+ if true %}y{% endif +%}\nz", U, {}),
    ("ws_comment", "a\n  {# comment #}\nb {#- c -#} c\n{# multi\nline #}\nd", U, {}),
    ("ws_raw", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{{ 'ok' }}", U, {}),
    ("ws_crlf", "line1\r\n{% if true %}\r\nline2\r\n{% endif %}\r\nline3\r\n", U, {}),
    ("ws_var_not_lstripped", "a\n    {{ 'b' }}\n  {% if true %}c{% endif %}", U, {}),
    # ---- chat-shaped templates written for this test ----
    ("chatml", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}", SUA, {"add_generation_prompt": True}),
    ("llama2_style", "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}", SUA, {"bos_token": "<s>", "eos_token": "</s>"}),
    ("llama2_style_raises", "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ message.content }}{% endfor %}", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}),
    ("gemma_style", "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}", SUA[1:], {"bos_token": "<bos>", "add_generation_prompt": True}),
    ("zephyr_style", "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}", SUA, {"eos_token": "</s>", "add_generation_prompt": True}),
    ("tools_json", "{%- if tools %}{%- for t in tools %}{{ t | tojson }}\n{{ t.function | tojson(indent=2) }}\n{%- endfor %}{%- endif %}{{ messages[-1].content }}", U, {"tools": TOOLS}),
    ("tools_none", "{{ tools is none }}|{{ tools is defined }}|{% if not tools %}no tools{% endif %}", U, {}),
    # ---- statements ----
    ("for_loop_vars", "{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.cycle('o','e') }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", U, {}),
    ("for_else_filter", "{% for x in [1,2,3,4,5,6] if x is even %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", U, {}),
    ("for_unpack_items", "{% for k, v in messages[0].d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in messages[0].d | items %}{{ k }},{% endfor %}{% for k in messages[0].d %}{{ k }}{% endfor %}", DATA, {}),
    ("for_break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", U, {}),
    ("for_nested_loop", "{% for a in [1,2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", U, {}),
    ("set_scoping", "{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = i + 10 %}{{ x }},{% endfor %}{{ x }}{% if true %}{% set x = 5 %}{% endif %}{{ x }}", U, {}),
    ("namespace", "{% set ns = namespace(found=false, count=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.count = ns.count + 1 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.count }}{% set ns2 = namespace() %}{% set ns2.x = 'y' %}{{ ns2.x }}", SUA, {}),
    ("set_block", "{% set greeting %}Hello {{ messages[0].content }}!{% endset %}[{{ greeting }}]{% set shout | upper %}quiet {{ 'words' }}{% endset %}{{ shout }}", U, {}),
    ("macro", "{% macro tag(name, body='-', close=true) %}<{{ name }}>{{ body }}{% if close %}</{{ name }}>{% endif %}{% endmacro %}{{ tag('a') }}{{ tag('b', 'x') }}{{ tag('c', close=false) }}{{ tag(body='k', name='d') }}", U, {}),
    ("macro_recursion", "{% macro render(v) %}{% if v is mapping %}{{ '{' }}{% for k, x in v.items() %}{{ k }}:{{ render(x) }}{% if not loop.last %},{% endif %}{% endfor %}{{ '}' }}{% elif v is iterable and v is not string %}[{% for x in v %}{{ render(x) }}{{ ',' if not loop.last }}{% endfor %}]{% else %}{{ v }}{% endif %}{% endmacro %}{{ render(messages[0].d) }}", DATA, {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('p') %}inside {{ messages[0].content }}{% endcall %}", U, {}),
    ("filter_block", "{% filter upper %}shout {{ messages[0].content }}{% endfilter %}", U, {}),
    ("with_block", "{% with a = 1, b = 'two' %}{{ a }}{{ b }}{% endwith %}{{ a is defined }}", U, {}),
    ("if_elif_else", "{% for n in [0, 1, 2, 3] %}{% if n == 0 %}zero{% elif n == 1 %}one{% elif n is odd %}odd{% else %}other{% endif %} {% endfor %}", U, {}),
    # ---- expressions ----
    ("literals", "{{ 'a\\tb\\n\\u00e9\\x41\\\\' }}|{{ \"dq'\" }}|{{ 42 }}|{{ -7 }}|{{ 1.5 }}|{{ 2.0 }}|{{ 1e3 }}|{{ 0.1 + 0.2 }}|{{ true }}|{{ none }}|{{ [1, 'a', none, true, 1.0] }}|{{ {'a': 1, 'b': [2]} }}|{{ (1,) }}|{{ (1, 'x') }}", U, {}),
    ("arithmetic", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7.5 // 2 }} {{ 'ab' * 3 }} {{ [1] * 3 }} {{ [1, 2] + [3] }} {{ 'a' ~ 1 ~ none ~ true }} {{ 10 / 4 * 2 }} {{ 2 + 3 * 4 }}", U, {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'b' >= 'a' }} {{ 'ab' in 'cabd' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 5 not in [1] }} {{ not 0 }} {{ [] or 'x' }} {{ 'y' and 0 }} {{ none is none }} {{ 1 is not none }}", U, {}),
    ("ternary", "{{ 'yes' if messages else 'no' }}|{{ 'a' if false }}|{{ ('x' if true else 'y') ~ 'z' }}|{{ 1 if none else 2 if true else 3 }}", U, {}),
    ("subscripts_slices", "{{ messages[0]['role'] }} {{ messages[-1].content }} {{ 'héllo wörld'[1:4] }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[::2] }} {{ [1,2,3,4][1:] }} {{ [1,2,3,4][:-1] }} {{ [1,2,3,4][-2:] }} {{ [1,2,3][5] is undefined }} {{ messages[0].missing is defined }} {{ messages[0]['missing'] is undefined }}", SUA, {}),
    ("undefined_behaviour", "[{{ nothing }}][{{ nothing | length }}][{{ nothing ~ 'x' }}][{{ nothing | default('dflt') }}][{{ '' | default('e', true) }}][{% for x in nothing %}x{% endfor %}][{{ nothing is undefined }}][{% if nothing %}t{% else %}f{% endif %}][{{ nothing == nothing }}]", U, {}),
    ("operator_precedence", "{{ -2 ** 2 }} {{ not true or true }} {{ 'a' ~ 'b' | upper }} {{ (1 + 2) ~ 3 }} {{ [3,1,2] | sort | first }} {{ 'x' if 1 > 2 or 3 > 2 else 'y' }} {{ -3 | abs }} {{ messages[0].items is defined }}", U, {}),
    # ---- tests ----
    ("tests", "{{ 'a' is string }}{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ true is boolean }}{{ {} is mapping }}{{ [] is iterable }}{{ 'x' is iterable }}{{ [] is sequence }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 'a' is equalto 'a' }}{{ true is true }}{{ 0 is false }}{{ none is none }}{{ 1 is integer }}{{ 1.0 is float }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ 2 is in [1, 2] }}{{ 1 is eq 1 }}{{ 2 is gt 1 }}", U, {}),
    # ---- filters ----
    ("filters_strings", "{{ '  pad \\n' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'MiXed' | upper }}|{{ 'MiXed' | lower }}|{{ 'hello wORLD-foo (bar' | title }}|{{ 'hELLO world' | capitalize }}|{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ '<b>&\"\\'' | e }}|{{ '<i>' | safe }}|{{ 'one two  three' | wordcount }}|{{ 42 | string }}|{{ 'ünï' | length }}|{{ 'abc' | reverse }}|{{ 'abc' | list }}|{{ 'abc' | first }}{{ 'abc' | last }}", U, {}),
    ("filters_numbers", "{{ '42' | int }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.99 | int }} {{ '2.5' | float }} {{ 'y' | float }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ [1, 2, 3.5] | sum }} {{ [{'n': 1}, {'n': 2}] | sum(attribute='n') }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A', 'c'] | max }} {{ '0x1A' | int(0, 16) }}", U, {}),
    ("filters_lists", "{{ messages[0].nums | sort }} {{ messages[0].nums | sort(reverse=true) }} {{ messages[0].tags | sort }} {{ messages[0].tags | sort(case_sensitive=true) }} {{ messages[0].tags | unique | list }} {{ messages[0].nums | join(', ') }} {{ messages[0].tags | join }} {{ messages[0].nums | length }} {{ messages[0].nums | count }} {{ messages[0].nums | first }} {{ messages[0].nums | last }} {{ messages[0].nums | reverse | list }} {{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 'x') | list }}", DATA, {}),
    ("filters_select_map", "{{ messages | map(attribute='role') | join(',') }}|{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ messages | rejectattr('role', 'eq', 'user') | list | length }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('even') | list }}|{{ [0, 1, '', 'a'] | select | list }}|{{ ['a', 'b'] | map('upper') | list }}|{{ messages | map(attribute='nope', default='?') | list }}|{{ messages | selectattr('role', 'in', ['system', 'assistant']) | map(attribute='role') | list }}", SUA, {}),
    ("filters_dicts", "{{ messages[0].d | dictsort }}|{{ messages[0].d | tojson }}|{{ messages[0].d | tojson(indent=2) }}|{{ messages[0] | tojson }}|{{ messages[0].d.get('z') }}{{ messages[0].d.get('q', 'dflt') }}{{ messages[0].d.get('q') }}|{{ messages[0].d.keys() | list }}|{{ messages[0].d.values() | list | length }}|{{ {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) }}", DATA, {}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(width='> ', blank=true) }}", U, {}),
    ("tojson_values", "{{ 'é😀\"\\\\\\n\\t\\u0001/' | tojson }} {{ [1, 2.5, none, true, 'x'] | tojson }} {{ {} | tojson }} {{ [] | tojson(indent=4) }} {{ 1e20 | tojson }} {{ 3.0 | tojson }} {{ {'a': []} | tojson(indent=1) }}", U, {}),
    # ---- string and dict methods ----
    ("string_methods", "{{ '  x y  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a<x>b<x>c'.split('<x>')[-1] }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'hello'.startswith('he') }}{{ 'hello'.endswith('lo') }}{{ 'hello'.startswith(('x', 'h')) }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ 'they are here'.title() }}|{{ 'aXbX'.replace('X', '-') }}|{{ 'hello'.find('l') }}{{ 'hello'.find('z') }}|{{ 'héllo'.count('l') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ 'ABC'.capitalize() }}", U, {}),
    ("repr_strings", "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\t', 'nl\\n', 'é', '\\u200b'] }}|{{ {'k': 'v\\\\'} }}", U, {}),
    ("globals", "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(5, 0, -2) | list }}|{{ dict(a=1, b='x') }}|{% set ns = namespace(a=[1]) %}{{ ns.a }}", U, {}),
    ("raise_in_macro", "{% macro check(m) %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('Unknown role: ' ~ m.role) }}{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{{ m.content }}{% endfor %}", [{"role": "user", "content": "ok"}, {"role": "robot", "content": "beep"}], {}),
    ("content_list_parts", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for part in m.content %}{% if part.type == 'text' %}{{ part.text }}{% elif part.type == 'image' %}<image>{% endif %}{% endfor %}{% endif %}\n{% endfor %}", [{"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image"}, {"type": "text", "text": " what?"}]}, {"role": "assistant", "content": "A cat."}], {}),
    ("tool_calls", "{% for m in messages %}{% if m.tool_calls is defined and m.tool_calls %}{% for tc in m.tool_calls %}{{ tc.function.name }}({{ tc.function.arguments | tojson }}){% endfor %}{% elif m.role == 'tool' %}[{{ m.content }}]{% else %}{{ m.content }}{% endif %}{% endfor %}", [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}]}, {"role": "tool", "content": "sunny"}], {}),
    # ---- errors Jinja raises (attend must fail too; the message may differ) ----
    ("err_unclosed_if", "{% if true %}never closed", U, {}),
    ("err_unknown_tag", "{% frobnicate %}", U, {}),
    ("err_bad_expression", "{{ 1 + }}", U, {}),
    ("err_unclosed_var", "{{ 'x' ", U, {}),
    ("err_unclosed_comment", "{# never", U, {}),
    ("err_endfor_mismatch", "{% for x in y %}{% endif %}", U, {}),
    ("err_undefined_attr", "{{ nothing.attr }}", U, {}),
    ("err_unknown_filter", "{{ 'x' | nosuchfilter }}", U, {}),
    ("err_type_concat", "{{ 'a' + 1 }}", U, {}),
    ("err_div_zero", "{{ 1 / 0 }}", U, {}),
    ("err_not_iterable", "{% for x in 5 %}{% endfor %}", U, {}),
    ("err_mutation", "{% set l = [1] %}{{ l.append(2) }}", U, {}),
    ("err_tojson_undefined", "{{ nothing | tojson }}", U, {}),
    ("err_unbalanced", "{{ (1 + 2 }}", U, {}),
    ("err_concat_binds_tighter", "{{ 1 + 2 ~ 3 }}", U, {}),  # 1 + (2 ~ 3): int + str
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = os.path.splitext(parser.parse_args().out)[0] + ".json"
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    env = make_env()
    cases = []
    for name, source, messages, extra in CASES:
        kw = {"messages": messages, "add_generation_prompt": extra.get("add_generation_prompt", False),
              "bos_token": extra.get("bos_token", ""), "eos_token": extra.get("eos_token", ""),
              "tools": extra.get("tools"), "documents": None}
        case = {"name": name, "template": source, "messages": messages,
                "add_generation_prompt": kw["add_generation_prompt"], "bos_token": kw["bos_token"],
                "eos_token": kw["eos_token"], "tools": kw["tools"]}
        try:
            case["expected"] = env.from_string(source).render(**kw)
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e) if type(e) is jinja2.exceptions.TemplateError else ""
        except (TypeError, ValueError, ZeroDivisionError, AttributeError) as e:
            case["error"] = ""
        cases.append(case)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
    os.replace(tmp, out)
    print(f"{len(cases)} cases ({sum('error' in c for c in cases)} errors) -> {out}")


if __name__ == "__main__":
    sys.exit(main())
