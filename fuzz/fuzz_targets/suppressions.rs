#![no_main]

use libfuzzer_sys::fuzz_target;

// Suppression comments (`msgscan: ignore[...]`, `ignore-file[...]`) in any text: the
// parser's promises are checked inside `fuzzing::suppressions`.
fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        msgscan::fuzzing::suppressions(text);
    }
});
