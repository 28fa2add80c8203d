#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| paycycle_fuzz::client_answers(data));
