//! `msgscan-hook FILES...`, the binary pre-commit installs: the same as
//! `msgscan hook FILES...` (see `.pre-commit-hooks.yaml`).

fn main() -> std::process::ExitCode {
    msgscan_cli::hook_main()
}
