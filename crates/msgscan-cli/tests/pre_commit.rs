//! The pre-commit hook for real: pre-commit installs this checkout's hook (`cargo install`
//! of the repository, as `.pre-commit-hooks.yaml` says) into a temporary git repository and
//! runs it on staged files.
//!
//! Runs when `pre-commit` is installed (`.ci/run` installs it; in CI a missing pre-commit
//! fails the test instead of skipping it). The first run compiles msgscan in release mode
//! (minutes); the build directory is kept in `target/pre-commit-build`, so a rerun
//! recompiles only msgscan's own crates. pre-commit's home starts empty on every run: cargo
//! records the sources a crate was built from by path, and those paths are pre-commit's
//! clones of the hook repository; a kept clone of an older checkout made cargo take our
//! crates for up to date and install the old code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn git(dir: &Path, args: &[&str]) -> Output {
    let out = run(Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "msgscan test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "msgscan test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        // Fixed dates: the same tree gives the same commit, so pre-commit can reuse the
        // hook it installed for it last time.
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_CONFIG_NOSYSTEM", "1"));
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The workspace's `target/` directory (this test runs from `target/<profile>/deps/`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// A git repository holding the checkout as it is now (committed or not, minus ignored
/// files), so the hook under test is the code under test.
fn snapshot_of_checkout(into: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let list = git(
        &root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    for rel in list.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let rel = std::str::from_utf8(rel).unwrap();
        let from = root.join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = into.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    git(into, &["init", "-q"]);
    git(into, &["add", "-A"]);
    git(into, &["commit", "-q", "-m", "snapshot"]);
    let rev = git(into, &["rev-parse", "HEAD"]);
    String::from_utf8(rev.stdout).unwrap().trim().to_string()
}

fn pre_commit(project: &Path, home: &Path) -> Output {
    run(Command::new("pre-commit")
        .args(["run", "--color", "never"])
        .current_dir(project)
        .env("PRE_COMMIT_HOME", home)
        .env("CARGO_TARGET_DIR", target_dir().join("pre-commit-build"))
        .env_remove("NO_COLOR"))
}

#[test]
fn pre_commit_hook_fails_on_a_staged_violation_and_passes_once_fixed() {
    if !available("pre-commit") || !available("git") {
        assert!(
            std::env::var_os("CI").is_none(),
            "pre-commit (or git) is not installed; .ci/run installs it with pip"
        );
        eprintln!("skipped: pre-commit is not installed (pip install pre-commit)");
        return;
    }
    let dir = temp_dir("pre-commit");
    // Kept under target/: the next run reuses the compiled dependencies.
    let keep = target_dir().join("pre-commit-build");
    let hook_repo = keep.join("hook-repo");
    let _ = std::fs::remove_dir_all(&hook_repo);
    let rev = snapshot_of_checkout(&hook_repo);
    let home = keep.join("home");
    let _ = std::fs::remove_dir_all(&home);

    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    git(&project, &["init", "-q"]);
    write(
        &project.join(".pre-commit-config.yaml"),
        &format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: msgscan\n",
            hook_repo.display()
        ),
    );
    // A finding already committed in another file: not the business of later commits.
    write(&project.join("legacy/old_tasks.py"), PICKLE_TASK);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "--no-verify", "-m", "legacy"]);

    // Stage a violation: the hook fails and names it.
    write(&project.join("app/tasks.py"), PICKLE_TASK);
    git(&project, &["add", "app/tasks.py"]);
    let out = pre_commit(&project, &home);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("msgscan"), "{text}");
    assert!(text.contains("Failed"), "{text}");
    assert!(text.contains("celery-task-pickle-serializer"), "{text}");
    assert!(text.contains("app/tasks.py:4:1"), "{text}");
    assert!(
        !text.contains("legacy/old_tasks.py"),
        "findings in files not staged are not reported: {text}"
    );

    // Stage the fix: the hook passes, although legacy/ still has its finding.
    write(&project.join("app/tasks.py"), CLEAN_TASK);
    git(&project, &["add", "app/tasks.py"]);
    let out = pre_commit(&project, &home);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Passed"), "{text}");
    // The hook kept its fact cache in the project, git-ignored.
    assert!(project.join(".msgscan-cache/.gitignore").exists());
    let status = git(&project, &["status", "--porcelain"]);
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains(".msgscan-cache"),
        "the cache shows up in git status"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
