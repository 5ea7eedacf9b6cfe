// What is here: the official `openai` npm client driving `qforge serve` on loopback: list
// models, complete, chat, stream, adapter switch, adapter load/unload, logprobs and error
// cases. Run by CTest (serve_openai_node) with QFORGE_BINARY, QFORGE_MODEL and
// QFORGE_SERVE_NODE_DIR (adapters written by the serve_node_adapters fixture). Exits 77
// (skipped) when node_modules is absent: `npm ci --prefix tests/serve/node` (scripts/setup).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
if (!existsSync(path.join(here, 'node_modules', 'openai'))) {
  console.log('SKIP: the openai npm package is not installed; run ' +
              '`npm ci --prefix tests/serve/node` (scripts/setup does)');
  process.exit(77);
}
const { default: OpenAI } = await import('openai');

const binary = process.env.QFORGE_BINARY;
const model = process.env.QFORGE_DATA ? path.join(process.env.QFORGE_DATA, 'models', 'stories260K')
                                      : process.env.QFORGE_MODEL;
const dir = process.env.QFORGE_SERVE_NODE_DIR;
for (const [k, v] of Object.entries({ QFORGE_BINARY: binary, QFORGE_MODEL: model,
                                      QFORGE_SERVE_NODE_DIR: dir })) {
  if (!v) {
    console.error(`${k} is not set`);
    process.exit(2);
  }
}
if (!existsSync(path.join(model, 'config.json'))) {
  console.log(`SKIP: shipped model not found at ${model} (set QFORGE_DATA)`);
  process.exit(77);
}
const killer = setTimeout(() => {
  console.error('timed out after 60 s');
  process.exit(1);
}, 60000);

// Start the server on a free port; it prints the port it listens on.
const server = spawn(binary, ['serve', '--model', model, '--adapter', `alpha=${dir}/alpha`,
                              '--port', '0', '--max-len', '256', '--max-tokens', '128'],
                     { stdio: ['ignore', 'inherit', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (d) => {
    err += d.toString();
    const m = err.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (code) => reject(new Error(`qforge serve exited with ${code}: ${err}`)));
});

const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused',
                            maxRetries: 0, timeout: 20000 });
let passed = 0, failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
async function expectApiError(promise, status, param) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, `not an APIError: ${e}`);
    assert.equal(e.status, status);
    if (param !== undefined) assert.equal(e.param, param);
    assert.ok(e.message.length > 0);
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}
const greedy = { max_tokens: 16, temperature: 0 };

await check('models.list lists the base and the adapter', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['stories260K', 'alpha']);
});

let baseText = '';
await check('completions.create (greedy)', async () => {
  const r = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time',
                                              ...greedy });
  baseText = r.choices[0].text;
  assert.ok(baseText.startsWith(', there was'), baseText);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 16);
});

await check('adapter switch changes the completion', async () => {
  const r = await client.completions.create({ model: 'alpha', prompt: 'Once upon a time',
                                              ...greedy });
  assert.equal(r.model, 'alpha');
  assert.notEqual(r.choices[0].text, baseText);
});

let chatText = '';
await check('chat.completions.create', async () => {
  const r = await client.chat.completions.create({
    model: 'stories260K', messages: [{ role: 'user', content: 'Tell me a story.' }], ...greedy });
  chatText = r.choices[0].message.content;
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(chatText.length > 0);
});

await check('chat stream (SSE) gives the same text', async () => {
  const stream = await client.chat.completions.create({
    model: 'stories260K', messages: [{ role: 'user', content: 'Tell me a story.' }], ...greedy,
    stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, chatText);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 16);
});

await check('completion stream', async () => {
  const stream = await client.completions.create({ model: 'alpha', prompt: 'The dog',
                                                   ...greedy, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  const r = await client.completions.create({ model: 'alpha', prompt: 'The dog', ...greedy });
  assert.equal(text, r.choices[0].text);
});

await check('chat logprobs', async () => {
  const r = await client.chat.completions.create({
    model: 'stories260K', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5,
    temperature: 0, logprobs: true, top_logprobs: 2 });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(t.logprob <= 0 && t.logprob >= t.top_logprobs[1].logprob - 1e-6);
  }
});

await check('load and unload an adapter at run time', async () => {
  await expectApiError(client.completions.create({ model: 'beta', prompt: 'x', max_tokens: 2 }),
                       404, 'model');
  await client.post('/load_lora_adapter',
                    { body: { lora_name: 'beta', lora_path: `${dir}/beta` } });
  const r = await client.completions.create({ model: 'beta', prompt: 'Once upon a time',
                                              ...greedy });
  assert.notEqual(r.choices[0].text, baseText);
  await client.post('/unload_lora_adapter', { body: { lora_name: 'beta' } });
  await expectApiError(client.completions.create({ model: 'beta', prompt: 'x', max_tokens: 2 }),
                       404, 'model');
});

await check('error cases are OpenAI errors', async () => {
  await expectApiError(client.completions.create({ model: 'stories260K', prompt: 'x',
                                                   temperature: 3 }), 400, 'temperature');
  await expectApiError(client.chat.completions.create({ model: 'stories260K', messages: [] }),
                       400, 'messages');
  await expectApiError(client.completions.create({ model: 'stories260K', prompt: 'x',
                                                   max_tokens: 100000 }), 400, 'max_tokens');
  const e = await expectApiError(client.completions.create({ model: 'nope', prompt: 'x' }), 404,
                                 'model');
  assert.equal(e.code, 'model_not_found');
});

clearTimeout(killer);
server.kill('SIGTERM');
await new Promise((resolve) => server.on('exit', resolve));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
