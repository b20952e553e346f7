#![no_main]

use libfuzzer_sys::fuzz_target;
use msgscan_lang::Language;

fuzz_target!(|data: &[u8]| {
    msgscan_fuzz::parse_detect(Language::Python, data);
});
