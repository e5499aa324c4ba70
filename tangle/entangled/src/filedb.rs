//! Entangled's record of what it wrote, `.entangled/filedb.json`: for a book whose files were
//! last tangled by Entangled, `tangle sync` learns from it whether a file was edited since, and
//! whether the documents changed since, as our own manifest would tell; and `tangle` keeps it
//! up to date, so that Entangled run next finds the files as it expects.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tangle_core::write::Ledger;

/// The digests Entangled recorded, by path relative to the root.
#[derive(Debug, Clone, Default)]
pub struct FileDb {
    pub files: BTreeMap<PathBuf, String>,
}

/// Entangled's digest of a text: SHA-256 of its UTF-8 bytes, carriage returns and trailing
/// white space left out.
pub fn hexdigest(text: &str) -> String {
    let text = text.replace('\r', "");
    let digest = Sha256::digest(text.trim_end().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entangled's test of sameness: only carriage returns or trailing white space differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    hexdigest(&String::from_utf8_lossy(a)) == hexdigest(&String::from_utf8_lossy(b))
}

impl Ledger for FileDb {
    fn knows(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    fn wrote(&self, path: &Path, bytes: &[u8]) -> bool {
        self.files
            .get(path)
            .is_some_and(|d| *d == hexdigest(&String::from_utf8_lossy(bytes)))
    }
}

impl FileDb {
    /// The database in `root`, if there is a readable one.
    pub fn read(root: &Path) -> Option<FileDb> {
        let text = std::fs::read_to_string(root.join(".entangled/filedb.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let files = json
            .get("files")?
            .as_object()?
            .iter()
            .filter_map(|(k, v)| {
                let digest = v.get("hexdigest")?.as_str()?;
                Some((
                    tangle_core::paths::normalize(Path::new(k)),
                    digest.to_string(),
                ))
            })
            .collect();
        Some(FileDb { files })
    }
}

/// After `tangle` wrote `outputs` of an Entangled book: Entangled's database, if the book has
/// one, learns what the files and the documents now hold, so that Entangled, run next, sees
/// files it can overwrite rather than files "changed outside its control" (it compares these
/// digests). A team can switch between the tools. The rest of the database is kept as it is.
pub fn record(
    root: &Path,
    documents: &[PathBuf],
    outputs: &[tangle_core::output::Output],
) -> std::io::Result<()> {
    let path = root.join(".entangled/filedb.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let Ok(mut db) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(());
    };
    // Entangled 2's database (Python's); entangled-rs keeps another format (its version
    // 1.0, its paths absolute), which is left alone.
    if !db
        .get("version")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|v| v.starts_with("2."))
    {
        return Ok(());
    }
    let modified = now();
    let stat = |db: &mut serde_json::Value, key: String, digest: String| {
        if let Some(files) = db.get_mut("files").and_then(|f| f.as_object_mut()) {
            files.insert(
                key,
                serde_json::json!({ "hexdigest": digest, "modified": modified }),
            );
        }
    };
    for o in outputs {
        let key = tangle_core::paths::normalize(&o.path)
            .to_string_lossy()
            .replace('\\', "/");
        stat(
            &mut db,
            key.clone(),
            hexdigest(&String::from_utf8_lossy(&o.content)),
        );
        if let Some(targets) = db.get_mut("targets").and_then(|t| t.as_array_mut()) {
            if !targets.iter().any(|t| t.as_str() == Some(&key)) {
                targets.push(serde_json::Value::String(key));
            }
        }
    }
    for d in documents {
        if let Ok(t) = std::fs::read_to_string(root.join(d)) {
            stat(
                &mut db,
                d.to_string_lossy().replace('\\', "/"),
                hexdigest(&t),
            );
        }
    }
    let tmp = path.with_extension("json.tangle-tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(&db).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, &path)
}

/// The current time as Entangled records it (ISO 8601 without a zone; UTC here).
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000000",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_reads_as_a_date() {
        let t = now();
        assert_eq!(t.len(), "2026-11-30T02:58:58.000000".len(), "{t}");
        assert!(t.starts_with("20"), "{t}");
    }

    #[test]
    fn digest_as_entangled() {
        // sha256("a\nb"): the trailing newline and the carriage return do not count.
        assert_eq!(
            hexdigest("a\r\nb\n\n"),
            "7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78"
        );
    }
}
