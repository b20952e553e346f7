//! `msgscan hook FILES`: the given files are judged in the context of the whole project.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

/// A project with a task defined in one file and called from another, and an
/// error-level finding in each of two files.
fn project(name: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    write(
        &dir.join("billing/tasks.py"),
        "from celery import shared_task\n\n\n@shared_task(name=\"billing.charge\", serializer=\"pickle\")\ndef charge(order_id):\n    return order_id\n",
    );
    write(
        &dir.join("shop/views.py"),
        "from celery import current_app\n\n\ndef checkout(order_id):\n    current_app.send_task(\"billing.charge\", args=[order_id], serializer=\"pickle\")\n",
    );
    write(&dir.join("shop/clean.py"), CLEAN_TASK);
    dir
}

fn hook(dir: &std::path::Path, files: &[&str], extra: &[&str]) -> std::process::Output {
    msgscan()
        .arg("hook")
        .args(files)
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn reports_only_findings_in_the_given_files_with_the_whole_project_as_context() {
    let dir = project("hook-focus");
    let out = hook(&dir, &["shop/views.py", "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        findings(&v),
        vec![(
            "celery-task-pickle-serializer".into(),
            "shop/views.py".into(),
            5
        )]
    );
    // The call in the given file is linked to the task in a file not given.
    let channel = v["topology"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "celery:billing.charge")
        .unwrap_or_else(|| panic!("no channel: {}", v["topology"]));
    assert_eq!(channel["producers"][0], "celery_call@shop/views.py:5:5");
    assert_eq!(
        channel["consumers"][0], "celery_task@billing/tasks.py:4:1",
        "{channel}"
    );

    // A commit touching only a clean file is not blamed for the others.
    let out = hook(&dir, &["shop/clean.py"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("Findings: 0"), "{}", stdout(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn runs_from_a_subdirectory_and_honours_flags() {
    let dir = project("hook-subdir");
    // From shop/, the project is still the repository (found by its .git).
    let out = hook(&dir.join("shop"), &["views.py", "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(findings(&v)[0].1, "shop/views.py");
    assert!(
        v["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "billing/tasks.py")
    );
    let out = hook(
        &dir,
        &["shop/views.py"],
        &["--ignore", "celery-task-pickle-serializer"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = hook(&dir, &["shop/nope.py"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("path not found"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn uses_and_refreshes_the_project_cache() {
    let dir = project("hook-cache");
    let out = hook(&dir, &["billing/tasks.py"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(dir.join(".msgscan-cache/.gitignore").exists());
    // Fix the file; the hook sees the new content, not the cached facts.
    write(
        &dir.join("billing/tasks.py"),
        "from celery import shared_task\n\n\n@shared_task(name=\"billing.charge\")\ndef charge(order_id):\n    return order_id\n",
    );
    let out = hook(&dir, &["billing/tasks.py"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
