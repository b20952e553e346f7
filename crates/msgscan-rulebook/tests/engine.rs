//! Loading rules of every shape, and the errors bad ones produce: location (line) in the
//! TOML, message and suggestion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use msgscan_rulebook::{At, Rulebook, RulebookError};

const HEAD: &str = r#"[[rule]]
id = "x-rule"
title = "t"
category = "reliability"
severity = "warning"
why = "w"
fix = "f"
references = ["https://example.com/"]
"#;

fn load(languages: &str, message: &str, selector: &str) -> Result<Rulebook, Box<RulebookError>> {
    let text = format!(
        "{HEAD}languages = {languages}\nmessage = \"{message}\"\n{selector}\n[rule.example]\nbad = \"b\"\ngood = \"g\"\n"
    );
    let mut book = Rulebook::default();
    book.load("custom.toml", &text).map(|_| book)
}

fn error(languages: &str, message: &str, selector: &str) -> (usize, String, String) {
    let e = load(languages, message, selector).unwrap_err();
    (
        e.line(),
        e.message.clone(),
        e.help.clone().unwrap_or_default(),
    )
}

#[test]
fn query_rules_compile_per_language() {
    let book = load(
        r#"["javascript", "typescript", "tsx"]"#,
        "`{callee}` with a literal event",
        "query = '''\n(call_expression function: (member_expression property: (property_identifier) @callee (#eq? @callee \"emit\"))) @match\n'''\nneedles = [\"emit\"]\n",
    )
    .unwrap();
    let rule = &book.rules()[0];
    assert_eq!(rule.scope(), "query");
    let q = rule.query.as_ref().unwrap();
    assert_eq!(q.languages().len(), 3);
    assert!(q.may_match("bus.emit('x')") && !q.may_match("bus.on('x')"));
    assert!(book.has_queries(msgscan_lang::Language::Tsx));
    assert!(!book.has_queries(msgscan_lang::Language::Python));
}

#[test]
fn bad_queries_point_into_the_toml() {
    // A node type the grammar does not have, on line 13 of the file (the query's 2nd line).
    let (line, message, _) = error(
        r#"["python"]"#,
        "m",
        "query = '''\n(call\n  function: (no_such_node)) @match\n'''\n",
    );
    assert_eq!(line, 13);
    assert!(
        message.contains("invalid tree-sitter query for python"),
        "{message}"
    );
    // Valid in JavaScript, not in Python: the error names the language.
    let (_, message, _) = error(
        r#"["javascript", "python"]"#,
        "m",
        "query = '''(call_expression) @match'''\n",
    );
    assert!(message.contains("for python"), "{message}");
    // No @match capture.
    let (_, message, help) = error(r#"["python"]"#, "m", "query = '''(call) @c'''\n");
    assert!(message.contains("no `@match` capture"), "{message}");
    assert!(help.contains("@match"));
    // Placeholders are capture names.
    let (_, message, help) = error(
        r#"["python"]"#,
        "{fn}",
        "query = '''(call function: (identifier) @func) @match'''\n",
    );
    assert!(message.contains("placeholder `{fn}`"), "{message}");
    assert_eq!(help, "did you mean `func`?");
}

#[test]
fn channel_rules_validate_fields_and_sides() {
    let book = load(
        r#"["python"]"#,
        "{name} has {producer_count} producers",
        "[rule.channel]\nat = \"producer\"\nwhen = { consumers = { empty = true } }\nproducer = { kind = \"celery_call\", when = { method = \"send_task\" } }\n[[rule.channel.unless-exists]]\nwhen = { consumers = { empty = false } }\nsame = { name = \"name\" }\nignore-case = true\n",
    )
    .unwrap();
    let ch = book.rules()[0].channel.as_ref().unwrap();
    assert_eq!(ch.at, At::Producer);
    assert_eq!(ch.unless.len(), 1);
    assert!(ch.unless[0].ignore_case);

    let (line, message, help) = error(
        r#"["python"]"#,
        "m",
        "[rule.channel]\nwhen = { consumer = { empty = true } }\n",
    );
    assert_eq!(line, 12);
    assert!(
        message.contains("channels have no field `consumer`"),
        "{message}"
    );
    assert_eq!(help, "did you mean `consumers`?");

    let (_, message, help) = error(r#"["python"]"#, "m", "[rule.channel]\nat = \"producers\"\n");
    assert!(message.contains("unknown `at` value"), "{message}");
    assert_eq!(help, "did you mean `producer`?");

    let (_, message, _) = error(
        r#"["python"]"#,
        "m",
        "[rule.channel]\n[[rule.channel.if-exists]]\nkind = \"celery_task\"\n",
    );
    assert!(message.contains("looks at channels"), "{message}");
}

#[test]
fn project_level_conditions_on_facts() {
    let book = load(
        r#"["python"]"#,
        "Task {name}",
        "[[rule.match]]\nkind = \"celery_task\"\nwhen = { acks_late = true }\n[[rule.match.unless-exists]]\nkind = \"celery_config\"\nwhen = { name = \"task_reject_on_worker_lost\" }\n[[rule.match.if-exists]]\nkind = \"celery_app\"\n",
    )
    .unwrap();
    let m = &book.rules()[0].matches[0];
    assert_eq!((m.unless.len(), m.requires.len()), (1, 1));

    // `same` names fields of both sides.
    let (_, message, help) = error(
        r#"["python"]"#,
        "m",
        "[[rule.match]]\nkind = \"celery_call\"\n[[rule.match.unless-exists]]\nkind = \"celery_task\"\nsame = { name = \"nmae\" }\n",
    );
    assert!(
        message.contains("`celery_call` facts have no field `nmae`"),
        "{message}"
    );
    assert_eq!(help, "did you mean `name`?");
    // A fact rule's exists needs a kind.
    let (_, message, _) = error(
        r#"["python"]"#,
        "m",
        "[[rule.match]]\nkind = \"celery_call\"\n[[rule.match.unless-exists]]\nwhen = { name = \"x\" }\n",
    );
    assert!(message.contains("needs a fact `kind`"), "{message}");
    // Unknown keys get the closest expected key.
    let (line, message, help) = error(
        r#"["python"]"#,
        "m",
        "[[rule.match]]\nkind = \"celery_call\"\n[[rule.match.unles-exists]]\nkind = \"celery_task\"\n",
    );
    assert_eq!(line, 13);
    assert!(
        message.contains("unknown field `unles-exists`"),
        "{message}"
    );
    assert_eq!(help, "did you mean `unless-exists`?");
}

#[test]
fn one_selector_per_rule() {
    let (_, message, _) = error(
        r#"["python"]"#,
        "m",
        "query = '''(call) @match'''\n[[rule.match]]\nkind = \"celery_call\"\n",
    );
    assert!(message.contains("has both"), "{message}");
    let (_, message, _) = error(r#"["python"]"#, "m", "");
    assert!(message.contains("selects nothing"), "{message}");
    let (_, message, _) = error(
        r#"["python"]"#,
        "m",
        "needles = [\"x\"]\n[[rule.match]]\nkind = \"celery_call\"\n",
    );
    assert!(
        message.contains("only applies to `query` rules"),
        "{message}"
    );
    let (_, message, help) = error(r#"["python"]"#, "m", "native = \"unused-supression\"\n");
    assert!(message.contains("unknown native check"), "{message}");
    assert_eq!(help, "did you mean `unused-suppression`?");
}

/// The generated docs are current: regenerate in memory and compare with docs/rules/.
#[test]
fn rule_docs_are_not_stale() {
    let book = Rulebook::builtin().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(msgscan_rulebook::docs::DOCS_DIR);
    let pages = msgscan_rulebook::docs::pages(&book);
    let regenerate = "run `cargo run -p msgscan-rulebook --example generate-docs`";
    for (name, text) in &pages {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(&on_disk == text, "docs/rules/{name} is stale: {regenerate}");
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            pages.iter().any(|(p, _)| *p == name),
            "docs/rules/{name} documents no rule: {regenerate}"
        );
    }
    // Every page has the required sections.
    for (name, text) in pages.iter().filter(|(n, _)| n != "README.md") {
        for heading in [
            "## What it does",
            "## Why it matters",
            "## Example",
            "## Fix",
            "## References",
        ] {
            assert!(text.contains(heading), "{name} lacks {heading}");
        }
    }
}

/// Several query rules of one language run as one combined query; each match is
/// attributed to its own rule, needles gate rules per file, and placeholders are filled.
#[test]
fn combined_queries_attribute_matches_to_their_rules() {
    let mut book = Rulebook::default();
    let rule = |id: &str, message: &str, extra: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\ntitle = \"t\"\ncategory = \"correctness\"\nseverity = \"info\"\nwhy = \"w\"\nfix = \"f\"\nreferences = [\"https://example.com/\"]\nlanguages = [\"python\"]\nmessage = \"{message}\"\n{extra}\n[rule.example]\nbad = \"b\"\ngood = \"g\"\n"
        )
    };
    let text = [
        rule(
            "q-sleep",
            "{match} sleeps",
            "needles = [\"sleep\"]\nquery = '''\n; a comment first\n(call function: (attribute attribute: (identifier) @f (#eq? @f \"sleep\"))) @match\n'''",
        ),
        rule(
            "q-print",
            "prints {arg}",
            "query = '''\n(call function: (identifier) @f (#eq? @f \"print\") arguments: (argument_list (string) @arg)) @match\n(call function: (identifier) @f (#eq? @f \"pprint\")) @match\n'''",
        ),
        rule(
            "q-absent",
            "never",
            "needles = [\"no_such_token\"]\nquery = '''(call) @match'''",
        ),
    ]
    .concat();
    book.load("q.toml", &text).unwrap();
    let source = "import time\nprint('hi')\ntime.sleep(1)\npprint(x)\n";
    let mut parser = msgscan_lang::FileParser::new(std::time::Duration::from_secs(5));
    let parsed = parser
        .parse(msgscan_lang::Language::Python, source)
        .unwrap();
    let lang = msgscan_lang::Language::Python;
    assert!(book.queries_may_match(lang, source));
    let found: Vec<(String, u32, u32, String)> = book
        .run_queries(lang, "a.py", source, &parsed.tree)
        .into_iter()
        .map(|f| (f.rule, f.line, f.column, f.message))
        .collect();
    assert_eq!(
        found,
        vec![
            ("q-print".into(), 2, 1, "prints 'hi'".into()),
            ("q-sleep".into(), 3, 1, "time.sleep(1) sleeps".into()),
            ("q-print".into(), 4, 1, "prints ?".into()),
        ]
    );
    // Without any needle of `q-sleep` and `q-absent`, `q-print` (no needles) still runs.
    let other = "print('x')\n";
    let parsed = parser.parse(lang, other).unwrap();
    let rules: Vec<String> = book
        .run_queries(lang, "b.py", other, &parsed.tree)
        .into_iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(rules, vec!["q-print".to_string()]);
}
