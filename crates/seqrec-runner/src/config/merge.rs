//! Key-by-key merging of a per-dataset override table onto the shared one.

use serde::de::DeserializeOwned;

/// `base` with every key of `over` replacing it; tables merge recursively.
pub fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Reads `base` overridden by `over` into `T` (unknown keys are errors
/// because every settings struct denies them).
pub fn merged<T: DeserializeOwned>(base: &toml::Table, over: &toml::Table) -> Result<T, String> {
    let mut table = base.clone();
    merge(&mut table, over);
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.to_string().trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tables_merge_key_by_key() {
        let mut base: toml::Table =
            toml::from_str("a = 1\n[t]\nx = 1\ny = 2\n").unwrap_or_default();
        let over: toml::Table = toml::from_str("b = 3\n[t]\ny = 5\n").unwrap_or_default();
        merge(&mut base, &over);
        let expected: toml::Table =
            toml::from_str("a = 1\nb = 3\n[t]\nx = 1\ny = 5\n").unwrap_or_default();
        assert_eq!(base, expected);
    }
}
