//! The `msgscan` binary.

fn main() -> std::process::ExitCode {
    msgscan_cli::main()
}
