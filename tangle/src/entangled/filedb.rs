//! Entangled's record of what it wrote, `.entangled/filedb.json`: for a book whose files were
//! last tangled by Entangled, `tangle sync` learns from it whether a file was edited since, and
//! whether the documents changed since, as our own manifest would tell.

use crate::project::Project;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
                Some((crate::paths::normalize(Path::new(k)), digest.to_string()))
            })
            .collect();
        Some(FileDb { files })
    }

    /// For output `path` holding `disk`: whether the documents changed since Entangled wrote
    /// it, and whether the file did; `None` if Entangled did not record it.
    pub fn changes(&self, project: &Project, path: &Path, disk: &[u8]) -> Option<(bool, bool)> {
        let recorded = self.files.get(path)?;
        let output_changed = *recorded != hexdigest(&String::from_utf8_lossy(disk));
        let documents_changed = project.documents().iter().any(|d| {
            let now = std::fs::read_to_string(project.root.join(d)).unwrap_or_default();
            self.files
                .get(&crate::paths::normalize(d))
                .map_or(true, |h| *h != hexdigest(&now))
        });
        Some((documents_changed, output_changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_as_entangled() {
        // sha256("a\nb"): the trailing newline and the carriage return do not count.
        assert_eq!(
            hexdigest("a\r\nb\n\n"),
            "7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78"
        );
    }
}
