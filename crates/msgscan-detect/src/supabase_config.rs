//! Supabase's project configuration, `supabase/config.toml`: the `[functions.<name>]`
//! tables (`verify_jwt`, `entrypoint`, `import_map`).
//!
//! msgscan reads TOML only for this file ([`msgscan_lang::Language::from_path`] maps
//! `supabase/config.toml`, and no other `.toml`, to [`Language::Toml`]), with the
//! tree-sitter TOML grammar, so the facts carry exact positions and the file goes through
//! the same walk, prefilter and traversal as source files. Both spellings are read:
//! `[functions.hello] verify_jwt = false` and `[functions] hello.verify_jwt = false`.

use msgscan_lang::Language;
use tree_sitter::Node;

use crate::engine::{Detector, FileCx, Visitor};
use crate::fact::{KindSpec, Role, attrs};
use crate::supabase::EDGE;

pub(crate) struct SupabaseConfig;

pub(crate) const KINDS: &[KindSpec] = &[KindSpec {
    kind: "edge_function_config",
    transport: EDGE,
    doc: "A `[functions.<name>]` table of `supabase/config.toml`. Name: the function. Located at its `verify_jwt` setting when there is one, else at the table header.",
    attrs: attrs! {
    "verify_jwt": Bool = "the `verify_jwt` setting (Supabase's default is `true`)",
    "unverified": Bool = "project-wide: `verify_jwt = false` and the function's code verifies neither a JWT nor a signature",
    "verify_jwt_set": Bool = "`verify_jwt` is written in the table",
    "entrypoint": String = "the `entrypoint` setting, if any",
    },
}];

impl Detector for SupabaseConfig {
    fn name(&self) -> &'static str {
        "supabase-config"
    }
    fn languages(&self) -> &'static [Language] {
        &[Language::Toml]
    }
    fn kinds(&self, _language: Language) -> &'static [&'static str] {
        &["pair"]
    }
    fn needles(&self) -> &'static [&'static str] {
        &["functions"]
    }
    fn visitor<'t>(&self, _file: &FileCx<'t>) -> Box<dyn Visitor<'t> + 't> {
        Box::<ConfigVisitor>::default()
    }
}

/// An edge function whose `verify_jwt` is off in `supabase/config.toml` while its code
/// verifies neither a JWT nor a signature (see [`edge_functions_without_verification`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedEdgeFunction {
    pub name: String,
    /// The id of the `edge_function_config` fact (`verify_jwt = false`).
    pub config: String,
    /// The id of the `edge_function` fact, when the function's code was found.
    pub function: Option<String>,
}

/// Joins `edge_function_config` facts with `verify_jwt = false` to the `edge_function` of
/// the same name in the same Supabase project (the `supabase/` directory that holds both)
/// and returns those whose code verifies neither a JWT nor a signature: anyone on the
/// internet can call them. The data for a project-level
/// `supabase-edge-verify-jwt-disabled-unsigned` rule.
pub fn edge_functions_without_verification(facts: &[crate::Fact]) -> Vec<UnverifiedEdgeFunction> {
    let project_of = |path: &str| -> String {
        match path.rfind("supabase/") {
            Some(i) => path[..i].to_string(),
            None => String::new(),
        }
    };
    let truthy = |f: &crate::Fact, k: &str| f.attr(k) == Some(&serde_json::Value::Bool(true));
    let mut out = Vec::new();
    for c in facts.iter().filter(|f| f.kind == "edge_function_config") {
        if c.attr("verify_jwt") != Some(&serde_json::Value::Bool(false)) {
            continue;
        }
        let Some(name) = &c.name else { continue };
        let root = project_of(&c.path);
        let code = facts.iter().find(|f| {
            f.kind == "edge_function"
                && f.name.as_ref() == Some(name)
                && project_of(&f.path) == root
        });
        let verified =
            code.is_some_and(|f| truthy(f, "verifies_jwt") || truthy(f, "verifies_signature"));
        if !verified {
            out.push(UnverifiedEdgeFunction {
                name: name.clone(),
                config: c.id.clone(),
                function: code.map(|f| f.id.clone()),
            });
        }
    }
    out
}

#[derive(Default)]
struct ConfigVisitor {
    /// Per function, in order of first appearance: (name, header range, verify_jwt
    /// (value, range), entrypoint).
    functions: Vec<FnConfig>,
}

struct FnConfig {
    name: String,
    at: std::ops::Range<usize>,
    verify_jwt: Option<(bool, std::ops::Range<usize>)>,
    entrypoint: Option<String>,
}

/// The parts of a TOML key (`a."b-c".d` → `[a, b-c, d]`).
fn key_parts(node: Node<'_>, cx: &FileCx<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "bare_key" => out.push(cx.text(n).to_string()),
            "quoted_key" => {
                let t = cx.text(n);
                out.push(
                    t.get(1..t.len().saturating_sub(1))
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            "dotted_key" => {
                let mut c = n.walk();
                let children: Vec<Node<'_>> = n.named_children(&mut c).collect();
                stack.extend(children.into_iter().rev());
            }
            _ => {}
        }
    }
    out
}

fn string_value(node: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    if node.kind() != "string" {
        return None;
    }
    let t = cx.text(node);
    let quote = if t.starts_with("\"\"\"") || t.starts_with("'''") {
        3
    } else {
        1
    };
    t.get(quote..t.len().saturating_sub(quote))
        .map(str::to_string)
}

impl ConfigVisitor {
    fn entry(&mut self, name: &str, at: std::ops::Range<usize>) -> &mut FnConfig {
        let i = match self.functions.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.functions.push(FnConfig {
                    name: name.to_string(),
                    at,
                    verify_jwt: None,
                    entrypoint: None,
                });
                self.functions.len() - 1
            }
        };
        &mut self.functions[i]
    }

    fn setting(
        &mut self,
        function: &str,
        at: std::ops::Range<usize>,
        key: &str,
        value: Node<'_>,
        pair: Node<'_>,
        cx: &FileCx<'_>,
    ) {
        let f = self.entry(function, at);
        match key {
            "verify_jwt" => match cx.text(value) {
                "true" => f.verify_jwt = Some((true, pair.byte_range())),
                "false" => f.verify_jwt = Some((false, pair.byte_range())),
                _ => {}
            },
            "entrypoint" => f.entrypoint = string_value(value, cx),
            _ => {}
        }
    }
}

impl<'t> Visitor<'t> for ConfigVisitor {
    fn enter(&mut self, node: Node<'t>, cx: &mut FileCx<'t>) {
        if node.kind() != "pair" {
            return;
        }
        let (Some(key), Some(value)) = (node.named_child(0), node.named_child(1)) else {
            return;
        };
        let mut path = key_parts(key, cx);
        // The enclosing table's header, if any.
        let mut header = Vec::new();
        let mut header_range = node.byte_range();
        if let Some(table) = cx.parent(node).filter(|p| p.kind() == "table")
            && let Some(h) = table.named_child(0)
        {
            header = key_parts(h, cx);
            header_range = h.byte_range();
        }
        header.append(&mut path);
        // functions.<name>.<setting>
        if let [first, name, setting] = header.as_slice()
            && first == "functions"
        {
            let (name, setting) = (name.clone(), setting.clone());
            self.setting(&name, header_range, &setting, value, node, cx);
        }
    }

    fn finish(self: Box<Self>, cx: &mut FileCx<'t>) {
        for f in self.functions {
            let at = f
                .verify_jwt
                .as_ref()
                .map_or(f.at.clone(), |(_, r)| r.clone());
            let fact = cx
                .fact_range("edge_function_config", EDGE, Role::Config, at)
                .name(f.name)
                .attr("verify_jwt", f.verify_jwt.as_ref().is_none_or(|(v, _)| *v))
                .attr("verify_jwt_set", f.verify_jwt.is_some())
                .attr_opt("entrypoint", f.entrypoint);
            cx.emit(fact);
        }
    }
}

/// Project-wide: marks `edge_function_config` facts whose function is open to anyone
/// ([`edge_functions_without_verification`]).
pub(crate) fn enrich(facts: &mut [crate::Fact]) {
    let open = edge_functions_without_verification(facts);
    for e in open {
        if let Some(f) = facts.iter_mut().find(|f| f.id == e.config) {
            f.attrs
                .insert("unverified".into(), serde_json::Value::Bool(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use msgscan_lang::FileParser;

    fn facts(src: &str) -> Vec<crate::Fact> {
        let path = "supabase/config.toml";
        let lang = Language::from_path(std::path::Path::new(path)).unwrap();
        let parsed = FileParser::new(Duration::from_secs(5))
            .parse(lang, src)
            .unwrap();
        crate::detect(path, src, &parsed)
    }

    use super::*;

    #[test]
    fn unverified_functions_are_joined_with_their_code() {
        let parse = |path: &str, src: &str| {
            let lang = Language::from_path(std::path::Path::new(path)).unwrap();
            let parsed = FileParser::new(Duration::from_secs(5))
                .parse(lang, src)
                .unwrap();
            crate::detect(path, src, &parsed)
        };
        let mut all = parse(
            "supabase/config.toml",
            "[functions.open]\nverify_jwt = false\n[functions.signed]\nverify_jwt = false\n[functions.auth]\nverify_jwt = true\n",
        );
        all.extend(parse(
            "supabase/functions/open/index.ts",
            "Deno.serve(async (req) => new Response(await req.text()))\n",
        ));
        all.extend(parse(
            "supabase/functions/signed/index.ts",
            "import { createHmac, timingSafeEqual } from 'node:crypto'\nDeno.serve(async (req) => {\n  const mac = createHmac('sha256', Deno.env.get('S')!).update(await req.text()).digest()\n  return new Response(String(timingSafeEqual(mac, mac)))\n})\n",
        ));
        all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        crate::link::assign_ids(&mut all);
        let got = edge_functions_without_verification(&all);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].name, "open");
        assert_eq!(
            got[0].config,
            "edge_function_config@supabase/config.toml:2:1"
        );
        assert_eq!(
            got[0].function.as_deref(),
            Some("edge_function@supabase/functions/open/index.ts:1:1")
        );
    }

    #[test]
    fn both_spellings_of_function_settings() {
        let src = "[functions.stripe-webhook]\nverify_jwt = false\n\n[functions.\"hello\"]\nentrypoint = \"./functions/hello/main.ts\"\n\n[functions]\nlegacy.verify_jwt = false\n\n[auth]\nverify_jwt = false\n";
        let got: Vec<(String, u32, bool, bool)> = facts(src)
            .into_iter()
            .map(|f| {
                (
                    f.name.clone().unwrap(),
                    f.line,
                    f.attr("verify_jwt").unwrap().as_bool().unwrap(),
                    f.attr("verify_jwt_set").unwrap().as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("stripe-webhook".into(), 2, false, true),
                ("hello".into(), 4, true, false),
                ("legacy".into(), 8, false, true),
            ]
        );
    }
}
