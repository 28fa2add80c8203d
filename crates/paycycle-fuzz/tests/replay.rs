//! Replays every fuzz corpus file and every past crash through the fuzz targets' entry points,
//! on stable, so CI guards against regressions without nightly or cargo-fuzz.

use std::path::{Path, PathBuf};

use paycycle_fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_and_past_crash_replays_cleanly() {
    let mut replayed = 0;
    for target in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(target.name));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{} is empty: seed it (scripts/fuzz.sh seeds from the fixtures)",
            target.name
        );
        let crashes = files(&fuzz_dir().join("artifacts").join(target.name));
        for file in corpus.iter().chain(&crashes) {
            let Ok(data) = std::fs::read(file) else {
                panic!("cannot read {}", file.display());
            };
            let outcome = std::panic::catch_unwind(|| (target.run)(&data));
            assert!(outcome.is_ok(), "{} panics on {}", target.name, file.display());
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len());
}

#[test]
fn the_cargo_fuzz_project_has_one_binary_per_target() {
    let Ok(manifest) = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")) else {
        panic!("fuzz/Cargo.toml is missing");
    };
    for target in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{}\"", target.name)),
            "fuzz/Cargo.toml has no [[bin]] for {}",
            target.name
        );
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{}.rs", target.name))
                .is_file(),
            "fuzz/fuzz_targets/{}.rs is missing",
            target.name
        );
    }
}
