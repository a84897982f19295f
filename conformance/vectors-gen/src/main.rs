//! `vectors-gen [--out DIR]`: writes the vector files, by default over this checkout's
//! `spec/vectors/draft-01` (see the library's documentation).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let dir = match (args.next().as_deref(), args.next(), args.next()) {
        (None, _, _) => vectors_gen::default_dir(),
        (Some("--out"), Some(dir), None) => PathBuf::from(dir),
        _ => {
            eprintln!("usage: vectors-gen [--out DIR]");
            return ExitCode::from(64);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("vectors-gen: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let files = vectors_gen::generate();
    for (name, text) in &files {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("vectors-gen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!("wrote {} vector files to {}", files.len(), dir.display());
    ExitCode::SUCCESS
}
