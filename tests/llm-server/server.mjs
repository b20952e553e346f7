// A minimal OpenAI-compatible chat-completions server over node-llama-cpp, for msgscan's
// end-to-end LLM test. Listens on 127.0.0.1 only.
//
//   node server.mjs --model PATH.gguf [--port 0] [--threads 2] [--context 4096]
//
// Prints `LISTENING <port>` on stdout once the model is loaded. Serves
// `POST /v1/chat/completions` (non-streaming) and `GET /health`; requests are answered one
// at a time (one context sequence).
import http from "node:http";
import { getLlama, LlamaChatSession } from "node-llama-cpp";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const modelPath = arg("model");
if (!modelPath) {
  console.error("usage: node server.mjs --model PATH.gguf [--port 0] [--threads 2]");
  process.exit(2);
}
const threads = Number(arg("threads", "2"));
const contextSize = Number(arg("context", "4096"));
const port = Number(arg("port", "0"));

const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize, threads });
const modelName = modelPath.split("/").pop().replace(/\.gguf$/, "");

let queue = Promise.resolve();
function serialised(job) {
  const next = queue.then(job, job);
  queue = next.catch(() => {});
  return next;
}

async function complete(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const text = (m) => (typeof m.content === "string" ? m.content : "");
  const system = messages.filter((m) => m.role === "system").map(text).join("\n\n");
  const user = messages.filter((m) => m.role === "user").map(text).join("\n\n");
  const sequence = context.getSequence();
  try {
    const session = new LlamaChatSession({ contextSequence: sequence, systemPrompt: system || undefined });
    const res = await session.promptWithMeta(user, {
      maxTokens: Number.isInteger(body.max_tokens) ? body.max_tokens : 256,
      temperature: typeof body.temperature === "number" ? body.temperature : 0,
    });
    const content = res.responseText;
    return {
      id: `chatcmpl-${Date.now()}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: body.model || modelName,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content },
          finish_reason: res.stopReason === "maxTokens" ? "length" : "stop",
        },
      ],
    };
  } finally {
    sequence.dispose();
  }
}

function send(res, status, value) {
  const data = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    return send(res, 200, { status: "ok" });
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    return send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: "not_found" } });
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(res, 400, { error: { message: "invalid JSON body", type: "invalid_request_error" } });
    }
    serialised(() => complete(body)).then(
      (out) => send(res, 200, out),
      (err) => send(res, 500, { error: { message: String(err && err.message ? err.message : err), type: "server_error" } }),
    );
  });
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

function stop() {
  server.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
