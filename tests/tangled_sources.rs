//! The committed sources in `src/` are generated from the chapters in `docs/`: this test fails
//! when they differ (run `cargo make tangle` after editing a chapter, and commit both).

use std::path::Path;
use tangle::project::Project;
use tangle::write::check_all;

#[test]
fn committed_sources_equal_what_the_chapters_tangle_to() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::find(root)
        .unwrap_or_else(|e| panic!("book.toml does not load:\n{e}"))
        .expect("the repository is a book");
    let tangled = project
        .tangle()
        .unwrap_or_else(|e| panic!("the book does not tangle:\n{e}"));
    assert!(
        tangled
            .outputs
            .iter()
            .any(|o| o.path == Path::new("src/main.rs"))
            && tangled
                .outputs
                .iter()
                .any(|o| o.path == Path::new("src/libmessage.rs")),
        "the book must tangle src/main.rs and src/libmessage.rs"
    );
    let manifest = project.manifest(&tangled.outputs);
    let diffs = check_all(project.target(manifest.as_ref()), &tangled.outputs);
    let text: String = diffs.iter().map(|d| d.diff.as_str()).collect();
    assert!(
        diffs.is_empty(),
        "tangled sources differ from the chapters (run `cargo make tangle`):\n{text}"
    );
}
