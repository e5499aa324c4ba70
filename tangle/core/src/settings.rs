//! Values read from TOML settings files (`book.toml`, `Cargo.toml`, Entangled's
//! `entangled.toml`): anything malformed reads as absent.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The string at a path of keys in a TOML text (`["workspace", "package", "edition"]`), if it is
/// there and a string; anything malformed reads as absent.
pub fn toml_str(text: &str, keys: &[&str]) -> Option<String> {
    let table = DeTable::parse(text).ok()?;
    let (last, tables) = keys.split_last()?;
    let mut here = table.get_ref();
    for key in tables {
        match lookup(here, key).map(|v| v.get_ref()) {
            Some(DeValue::Table(t)) => here = t,
            _ => return None,
        }
    }
    match lookup(here, last).map(|v| v.get_ref()) {
        Some(DeValue::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

pub fn lookup<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}
