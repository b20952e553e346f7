#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut rulebook = msgscan_fuzz::builtin().clone();
    if rulebook.load("fuzz.toml", text).is_ok() {
        // A rulebook that loads must judge without panicking.
        let _ = rulebook.judge(msgscan_fuzz::sample_facts());
    }
    // And the same text alone, on an empty rulebook (duplicate ids are not the only path).
    let mut alone = msgscan_fuzz::builtin().clone();
    alone.retain(|_| false);
    if alone.load("fuzz.toml", text).is_ok() {
        let _ = alone.judge(msgscan_fuzz::sample_facts());
    }
});
