//! A volume specification file for `stowage volume register/create`, HCL or JSON: parsing it
//! must never panic, and a refusal that names a place must name one inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = stowage_cli::spec::parse(text, "fuzzed.hcl") {
        if let Some(at) = e.at {
            let lines = text.split('\n').count();
            assert!(at.line >= 1 && at.line <= lines, "line {} of {lines}", at.line);
        }
        let _ = e.to_string();
    }
});
