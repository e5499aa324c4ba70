//! Golden tests: each folder under `tests/golden/` is a small project (`book.toml`, `docs/`).
//! The real `tangle` binary runs in a copy of it; the files it writes must equal `expected/`
//! byte for byte, and its standard error must equal `stderr` (with the exit code in `status`).
//! A case whose `status` is 1 must write nothing at all.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the expectations from the current output (then review the diff).

use std::fs;
use std::path::{Path, PathBuf};

mod support;
use support::Scratch;

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "expected" || name == "stderr" || name == "status" || name == "modes" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file below `dir`, relative to it, sorted.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn run_case(case: &Path) -> Result<(), String> {
    let work = Scratch::new(&format!(
        "golden-{}",
        case.file_name().unwrap().to_string_lossy()
    ));
    copy_tree(case, &work);
    let before = files_below(&work);
    let out = work.tangle(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&format!("{}/", work.display()), "");
    let status = out.status.code().unwrap_or(-1).to_string();
    let produced: Vec<PathBuf> = files_below(&work)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = fs::remove_dir_all(case.join("expected"));
        for p in &produced {
            let dest = case.join("expected").join(p);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::write(&dest, fs::read(work.join(p)).unwrap()).unwrap();
        }
        fs::write(case.join("stderr"), &stderr).unwrap();
        fs::write(case.join("status"), format!("{status}\n")).unwrap();
        fs::write(case.join("modes"), modes(&work, &produced)).unwrap();
        return Ok(());
    }
    let mut problems = Vec::new();
    let want_status = fs::read_to_string(case.join("status")).unwrap_or_else(|_| "0".into());
    if want_status.trim() != status {
        problems.push(format!(
            "exit status {status}, expected {}",
            want_status.trim()
        ));
    }
    let want_stderr = fs::read_to_string(case.join("stderr")).unwrap_or_default();
    if want_stderr != stderr {
        problems.push(format!(
            "stderr differs:\n--- expected\n{want_stderr}--- actual\n{stderr}"
        ));
    }
    let want_modes = fs::read_to_string(case.join("modes")).unwrap_or_default();
    let got_modes = modes(&work, &produced);
    if want_modes != got_modes {
        problems.push(format!(
            "file modes differ:\n--- expected\n{want_modes}--- actual\n{got_modes}"
        ));
    }
    let expected_dir = case.join("expected");
    let expected = files_below(&expected_dir);
    if expected != produced {
        problems.push(format!(
            "files written: {produced:?}, expected {expected:?}"
        ));
    }
    for p in expected.iter().filter(|p| produced.contains(p)) {
        let want = fs::read(expected_dir.join(p)).unwrap();
        let got = fs::read(work.join(p)).unwrap();
        if want != got {
            problems.push(format!(
                "{} differs:\n--- expected\n{}--- actual\n{}",
                p.display(),
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// `path mode` lines for the written files.
fn modes(dir: &Path, files: &[PathBuf]) -> String {
    use std::os::unix::fs::PermissionsExt;
    files
        .iter()
        .map(|p| {
            format!(
                "{} {:o}\n",
                p.display(),
                fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o7777
            )
        })
        .collect()
}

#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "golden cases missing under {}",
        root.display()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run_case(c)
                .err()
                .map(|e| format!("== {}\n{e}", c.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
