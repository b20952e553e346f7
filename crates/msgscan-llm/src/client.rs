//! The two wire formats (OpenAI-compatible chat completions, Anthropic Messages) over a
//! blocking HTTP/1.1 client, with timeouts and bounded retries.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Provider, Settings};

/// Why a request gave no usable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the timeout.
    Timeout(Duration),
    /// Could not connect or the connection broke.
    Connection(String),
    /// A non-success status after the retries allowed.
    Http {
        status: u16,
        attempts: u32,
        message: String,
    },
    /// The server asked to wait longer than allowed.
    RetryAfterTooLong { status: u16, seconds: u64 },
    /// The body is not the provider's JSON shape.
    Malformed(String),
    /// The model declined.
    Refusal(String),
    /// The model stopped at the token limit.
    Truncated,
    /// No text.
    Empty,
}

impl Failure {
    /// Whether later requests are pointless (the server is down, slow or rate-limiting).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Failure::Timeout(_)
                | Failure::Connection(_)
                | Failure::RetryAfterTooLong { .. }
                | Failure::Http { .. }
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(d) => write!(f, "the request timed out after {} s", d.as_secs_f64()),
            Failure::Connection(m) => write!(f, "could not reach the server ({m})"),
            Failure::Http {
                status,
                attempts,
                message,
            } => {
                write!(f, "HTTP {status}")?;
                if *attempts > 1 {
                    write!(f, " after {attempts} attempts")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Failure::RetryAfterTooLong { status, seconds } => write!(
                f,
                "HTTP {status} asking to retry after {seconds} s, longer than allowed"
            ),
            Failure::Malformed(m) => write!(f, "the response was not valid ({m})"),
            Failure::Refusal(m) => {
                write!(f, "the model declined")?;
                if !m.is_empty() {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            Failure::Truncated => write!(f, "the model's answer was cut off at the token limit"),
            Failure::Empty => write!(f, "the model's answer was empty"),
        }
    }
}

/// A chat request: one system prompt, one user message.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

/// The endpoint URL for a provider.
pub fn endpoint(settings: &Settings) -> String {
    let base = settings.base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    match settings.provider {
        Provider::OpenAi => format!("{base}/v1/chat/completions"),
        Provider::Anthropic => format!("{base}/v1/messages"),
    }
}

/// The JSON body of a request.
pub fn request_body(settings: &Settings, prompt: &Prompt) -> Value {
    match settings.provider {
        Provider::OpenAi => json!({
            "model": settings.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "stream": false,
        }),
        Provider::Anthropic => json!({
            "model": settings.model,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
        }),
    }
}

/// A reusable client.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    settings: Settings,
    url: String,
}

impl Client {
    pub fn new(settings: &Settings) -> Client {
        let url = endpoint(settings);
        let loopback = ["://127.", "://localhost", "://[::1]"]
            .iter()
            .any(|h| url.contains(h));
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(settings.connect_timeout))
            .timeout_global(Some(settings.timeout))
            .user_agent(concat!("msgscan/", env!("CARGO_PKG_VERSION")));
        if loopback {
            config = config.proxy(None);
        }
        Client {
            agent: config.build().into(),
            settings: settings.clone(),
            url,
        }
    }

    /// Sends `prompt`, retrying 429 and 5xx with backoff, and returns the model's text.
    pub fn complete(&self, prompt: &Prompt) -> Result<String, Failure> {
        let body = request_body(&self.settings, prompt).to_string();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (status, retry_after, text) = self.send(&body)?;
            if (200..300).contains(&status) {
                return parse_response(self.settings.provider, &text);
            }
            let retryable = matches!(status, 408 | 409 | 425 | 429 | 500 | 502 | 503 | 504 | 529);
            if !retryable || attempt > self.settings.max_retries {
                return Err(Failure::Http {
                    status,
                    attempts: attempt,
                    message: error_message(&text),
                });
            }
            let backoff = self
                .settings
                .retry_base
                .saturating_mul(1u32 << (attempt - 1).min(6));
            let wait = match retry_after {
                Some(secs) if Duration::from_secs(secs) > self.settings.max_retry_after => {
                    return Err(Failure::RetryAfterTooLong {
                        status,
                        seconds: secs,
                    });
                }
                Some(secs) => Duration::from_secs(secs),
                None => backoff,
            };
            thread::sleep(wait.min(self.settings.max_retry_after));
        }
    }

    /// One HTTP exchange: status, Retry-After seconds, body.
    fn send(&self, body: &str) -> Result<(u16, Option<u64>, String), Failure> {
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json");
        let key = self.settings.api_key();
        match self.settings.provider {
            Provider::OpenAi => {
                if let Some(k) = key {
                    req = req.header("authorization", &format!("Bearer {k}"));
                }
            }
            Provider::Anthropic => {
                req = req.header("anthropic-version", crate::ANTHROPIC_VERSION);
                if let Some(k) = key {
                    req = req.header("x-api-key", k);
                }
            }
        }
        let started = Instant::now();
        let mut resp = req.send(body).map_err(|e| self.transport(e, started))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp
            .body_mut()
            .with_config()
            .limit(4 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| match self.transport(e, started) {
                Failure::Connection(m) => Failure::Malformed(m),
                other => other,
            })?;
        Ok((status, retry_after, text))
    }

    fn transport(&self, e: ureq::Error, started: Instant) -> Failure {
        match e {
            ureq::Error::Timeout(_) => Failure::Timeout(self.settings.timeout),
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                Failure::Timeout(started.elapsed())
            }
            other => Failure::Connection(other.to_string()),
        }
    }
}

/// The model's text from a success body.
pub fn parse_response(provider: Provider, body: &str) -> Result<String, Failure> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| Failure::Malformed(format!("not JSON: {e}")))?;
    match provider {
        Provider::OpenAi => {
            let choice = v
                .get("choices")
                .and_then(|c| c.get(0))
                .ok_or_else(|| Failure::Malformed("no `choices[0]`".into()))?;
            let message = choice
                .get("message")
                .ok_or_else(|| Failure::Malformed("no `choices[0].message`".into()))?;
            if let Some(r) = message.get("refusal").and_then(Value::as_str) {
                return Err(Failure::Refusal(short(r)));
            }
            let finish = choice.get("finish_reason").and_then(Value::as_str);
            if finish == Some("content_filter") {
                return Err(Failure::Refusal("content filter".into()));
            }
            let text = match message.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => return Err(Failure::Empty),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(""),
                Some(_) => return Err(Failure::Malformed("`content` is not text".into())),
            };
            if finish == Some("length") {
                return complete_sentences(&text).ok_or(Failure::Truncated);
            }
            finish_text(text)
        }
        Provider::Anthropic => {
            if v.get("type").and_then(Value::as_str) == Some("error") {
                return Err(Failure::Malformed(error_message(body)));
            }
            let stop = v.get("stop_reason").and_then(Value::as_str);
            let content = v
                .get("content")
                .and_then(Value::as_array)
                .ok_or_else(|| Failure::Malformed("no `content` array".into()))?;
            let text: String = content
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("");
            if stop == Some("refusal") {
                return Err(Failure::Refusal(short(&text)));
            }
            if stop == Some("max_tokens") {
                return complete_sentences(&text).ok_or(Failure::Truncated);
            }
            finish_text(text)
        }
    }
}

/// A text cut off at the token limit, up to its last complete sentence; `None` when less
/// than one sentence is left.
fn complete_sentences(text: &str) -> Option<String> {
    let t = text.trim_end();
    let mut end = None;
    for (i, c) in t.char_indices() {
        if matches!(c, '.' | '!' | '?') {
            let next = t[i + c.len_utf8()..].chars().next();
            if next.is_none_or(char::is_whitespace) {
                end = Some(i + c.len_utf8());
            }
        }
    }
    let cut = t[..end?].trim();
    if cut.len() < 20 {
        return None;
    }
    finish_text(cut.to_string()).ok()
}

fn finish_text(text: String) -> Result<String, Failure> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Failure::Empty);
    }
    let lower = t.to_ascii_lowercase();
    const REFUSALS: &[&str] = &[
        "i'm sorry",
        "i am sorry",
        "sorry, i",
        "i cannot",
        "i can't",
        "i can not",
        "i won't",
        "i will not",
        "i'm unable",
        "i am unable",
        "i apologize",
        "as an ai",
        "i'm not able",
        "i am not able",
    ];
    if REFUSALS.iter().any(|r| lower.starts_with(r)) {
        return Err(Failure::Refusal(short(t)));
    }
    Ok(t.to_string())
}

/// The provider's error message from an error body (both providers use
/// `{"error": {"message": ...}}`), shortened.
fn error_message(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_default();
    short(&msg)
}

fn short(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().take(160).collect();
    if s.chars().count() > 160 {
        out.push('…');
    }
    out
}
