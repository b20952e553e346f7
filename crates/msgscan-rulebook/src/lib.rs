//! The TOML rulebook: loading, validation, judging facts, scoring
