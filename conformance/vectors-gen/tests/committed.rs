//! The committed vector files are exactly what the generator writes, byte for byte,
//! and read back to the same text.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use conformance::vectors::{self, VectorFile};

fn vector_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize()
        .unwrap_or(root)
        .join("spec/vectors")
        .join(vectors::DRAFT_DIR)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn committed_files_are_the_generated_ones() {
    let generated = vectors_gen::generate();
    assert_eq!(
        generated,
        vectors_gen::generate(),
        "generation is deterministic"
    );
    let hint = format!(
        "regenerate with `{}` and commit the result",
        vectors_gen::GENERATE_COMMAND
    );
    let mut on_disk: BTreeSet<String> = std::fs::read_dir(vector_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    for (name, text) in &generated {
        let path = vector_dir().join(name);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; {hint}", path.display()));
        if committed != *text {
            let line = committed
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(text.lines().count()));
            panic!(
                "{} differs from the generator's output at line {}:\n  committed: {}\n  generated: {}\n{hint}",
                path.display(),
                line + 1,
                committed.lines().nth(line).unwrap_or("<end of file>"),
                text.lines().nth(line).unwrap_or("<end of file>"),
            );
        }
        on_disk.remove(name);
    }
    assert!(
        on_disk.is_empty(),
        "files the generator does not write: {on_disk:?}"
    );
}

#[test]
fn generate_writes_the_committed_files() {
    let dir = std::env::temp_dir().join(format!("mpp-vectors-gen-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_vectors-gen"))
        .args(["--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (name, text) in vectors_gen::generate() {
        assert_eq!(std::fs::read_to_string(dir.join(&name)).unwrap(), text);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_read_back_to_the_same_bytes() {
    for (name, text) in vectors_gen::generate() {
        let file = VectorFile::parse(&text).unwrap();
        assert_eq!(vectors_gen::file_text(&file), text, "{name}");
    }
}

#[test]
fn the_default_directory_is_the_committed_one() {
    assert_eq!(vectors_gen::default_dir(), vector_dir());
}
