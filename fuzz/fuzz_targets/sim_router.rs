#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| paycycle_fuzz::sim_router(data));
