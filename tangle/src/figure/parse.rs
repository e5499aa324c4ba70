//! Reading a figure block: its header lines (`id:`, `caption:`, `alt:`, `kind:`, `src:`),
//! then `---`, then its body.

use super::{Kind, Spec};

/// Reads a figure block's lines. Errors are messages about the block's own lines; `Err((i,
/// message))` names the body line `i` (0-based) at fault.
pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Spec, (usize, String)> {
    let mut spec = Spec {
        id: None,
        caption: String::new(),
        alt: String::new(),
        kind: Kind::Drawing,
        body: Vec::new(),
    };
    let mut body_at = None;
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        if line.trim() == "---" {
            body_at = Some(i + 1);
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err((
                i,
                format!("a figure's header line is `key: value` (caption, alt, id, kind), then `---`; got `{line}`"),
            ));
        };
        let value = value.trim();
        match key.trim() {
            "caption" => spec.caption = value.to_string(),
            "alt" => {
                if !spec.alt.is_empty() {
                    spec.alt.push(' ');
                }
                spec.alt.push_str(value);
            }
            "id" => spec.id = Some(value.to_string()),
            "src" => spec.kind = Kind::Svg(value.to_string()),
            "kind" => {
                spec.kind = match value {
                    "drawing" => Kind::Drawing,
                    "bytes" => Kind::Bytes,
                    "svg" => match &spec.kind {
                        Kind::Svg(_) => continue,
                        _ => return Err((i, "`kind: svg` needs `src: FILE.svg` first".into())),
                    },
                    other => {
                        return Err((
                            i,
                            format!("unknown figure kind `{other}` (known: drawing, bytes, svg)"),
                        ))
                    }
                }
            }
            other => {
                return Err((
                    i,
                    format!("unknown figure header `{other}` (known: caption, alt, id, kind, src)"),
                ))
            }
        }
    }
    if spec.caption.is_empty() {
        return Err((0, "a figure needs a `caption:` line".into()));
    }
    if spec.alt.is_empty() {
        return Err((
            0,
            "a figure needs an `alt:` line, its text alternative".into(),
        ));
    }
    match (body_at, &spec.kind) {
        (Some(at), _) => spec.body = lines[at..].iter().map(|l| l.as_ref().to_string()).collect(),
        (None, Kind::Drawing) => {
            return Err((
                lines.len().saturating_sub(1),
                "a drawing needs `---` and the drawing below its header".into(),
            ))
        }
        (None, Kind::Bytes | Kind::Svg(_)) => {}
    }
    while spec.body.last().is_some_and(|l| l.trim().is_empty()) {
        spec.body.pop();
    }
    if spec.kind == Kind::Bytes && !spec.body.is_empty() {
        return Err((
            at_least(body_at),
            "a byte figure has no body: it draws the checked dump right above it".into(),
        ));
    }
    if matches!(spec.kind, Kind::Svg(_)) && !spec.body.is_empty() {
        return Err((
            at_least(body_at),
            "a figure with `src:` has no body: it shows that file".into(),
        ));
    }
    Ok(spec)
}

fn at_least(n: Option<usize>) -> usize {
    n.unwrap_or(0)
}
