#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for r in msgscan_detect::fuzzing::pg_text(s) {
        assert!(r.start <= r.end && r.end <= s.len(), "range {r:?} outside {} bytes", s.len());
        assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end), "range {r:?} splits a character");
    }
});
