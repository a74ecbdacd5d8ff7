// tests/serve/node/test_openai.mjs — the official openai client streams a completion and a
// chat from attend serve; each text must equal what `attend generate` printed for it (given
// in EXPECTED_* by tests/serve/test_openai_node.py).
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0, timeout: 60000 });
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };

const models = await client.models.list();
const model = models.data[0].id;

let text = "", finish = null;
const completion = await client.completions.create({
  model, prompt: "Once upon a time", max_tokens: 40, temperature: 0, stream: true,
});
for await (const chunk of completion) {
  text += chunk.choices[0].text;
  finish = chunk.choices[0].finish_reason ?? finish;
}
if (text !== process.env.EXPECTED_COMPLETION) fail(`completion ${JSON.stringify(text)} != ${JSON.stringify(process.env.EXPECTED_COMPLETION)}`);
if (!["stop", "length"].includes(finish)) fail(`completion finish_reason ${finish}`);

let chat = "", role = null;
const stream = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 30, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let usage = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  if (!chunk.choices.length) continue;
  role = chunk.choices[0].delta.role ?? role;
  chat += chunk.choices[0].delta.content ?? "";
}
if (chat !== process.env.EXPECTED_CHAT) fail(`chat ${JSON.stringify(chat)} != ${JSON.stringify(process.env.EXPECTED_CHAT)}`);
if (role !== "assistant") fail(`chat role ${role}`);
if (!usage || usage.total_tokens !== usage.prompt_tokens + usage.completion_tokens) fail(`usage ${JSON.stringify(usage)}`);

const whole = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 30, temperature: 0 });
if (whole.choices[0].message.content !== chat) fail("the chat, not streamed, differs from the stream");

try {
  await client.completions.create({ model, prompt: "hi", temperature: 5 });
  fail("temperature 5 was accepted");
} catch (e) {
  if (!(e instanceof OpenAI.BadRequestError) || e.param !== "temperature") fail(`wanted a 400 on temperature, got ${e}`);
}
console.log(`openai client: streamed a completion (${text.length} chars) and a chat (${chat.length} chars), equal to attend generate`);
