//! Prints the syntax tree of a file (a development aid).
#![allow(clippy::print_stdout, clippy::unwrap_used)]
fn main() {
    let path = std::env::args().nth(1).expect("usage: sexp FILE");
    let lang = msgscan_lang::Language::from_path(path.as_ref()).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let mut p = msgscan_lang::FileParser::new(std::time::Duration::from_secs(10));
    let parsed = p.parse(lang, &src).unwrap();
    print_tree(parsed.tree.root_node(), &src);
    for e in &parsed.embedded {
        println!("--- embedded {:?}", e.function);
        print_tree(e.tree.root_node(), &src);
    }
}

fn print_tree(root: tree_sitter::Node<'_>, src: &str) {
    let mut cursor = root.walk();
    let mut depth = 0;
    loop {
        let n = cursor.node();
        let text = if n.child_count() == 0 {
            format!(" {:?}", &src[n.byte_range()])
        } else {
            String::new()
        };
        let field = cursor
            .field_name()
            .map(|f| format!("{f}: "))
            .unwrap_or_default();
        if n.is_named() || n.is_error() {
            println!("{}{}{}{}", "  ".repeat(depth), field, n.kind(), text);
        }
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            depth -= 1;
        }
    }
}
