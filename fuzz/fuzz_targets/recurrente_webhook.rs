#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| paycycle_fuzz::recurrente_webhook(data));
