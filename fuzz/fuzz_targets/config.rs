#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use msgscan_config::{CliOverrides, Settings};
use msgscan_rulebook::Severity;

// The configuration loader, as `msgscan.toml` and as `pyproject.toml`: any text gives
// settings or an error pointing into the text, and settings that load answer every
// question the scan asks of them.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["msgscan.toml", "pyproject.toml"] {
        match Settings::parse(name, text, Path::new("/project")) {
            Ok(mut settings) => {
                let book = msgscan_fuzz::builtin();
                let _ = settings.check_ids(book);
                let _ = settings.rulebook();
                for rule in book.rules().iter().take(8) {
                    let _ = settings.rule_enabled_somewhere(&rule.id);
                    for path in ["app/tasks.py", "src/a b/ü.ts", "", "../x.sql"] {
                        let _ = settings.severity_for(&rule.id, Severity::Warning, path);
                        let _ = settings.path_included(path);
                    }
                }
                let _ = settings.apply_overrides(CliOverrides {
                    select: Some(vec!["celery-".into()]),
                    severity: vec![("celery".into(), "error".into())],
                    fail_on: Some("warning".into()),
                    ..CliOverrides::default()
                });
            }
            Err(e) => {
                if let Some(line) = e.line() {
                    assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "error line {line}");
                }
            }
        }
    }
});
